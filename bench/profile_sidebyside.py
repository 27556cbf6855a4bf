"""Where one training step goes, ours beside PyTorch's profiler, for each backbone.

Run by hand from the repository root on a quiet machine (needs Debian's python3-torch and the
anchors beside the checkout):

    go build -o /tmp/vmdls ./cmd/vmdls
    /usr/bin/python3 bench/profile_sidebyside.py --vmdls /tmp/vmdls --isa avx2

For each backbone it runs `vmdls bench train-step --profile` (time per step by category of
backend primitive) and then the anchor `nets.py --profile` (PyTorch's profiler over one step,
its ops by self CPU time), and prints one Markdown table: milliseconds per step of each
category on both sides, with its share of the step. PyTorch's convolution_backward computes
the input and weight gradients in one op, so its column pairs with the sum of ours. nets.py
prints only its top ops; what they leave out is in PyTorch's "rest". With --isa avx2 ours
runs with VMDLS_KERNELS=avx2 and PyTorch with ONEDNN_MAX_CPU_ISA=AVX2.
"""
import argparse, json, os, re, subprocess

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument('--vmdls', default='/tmp/vmdls')
p.add_argument('--anchors', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'anchors'))
p.add_argument('--work', default='mnist-conv:160,resnet18:128,vgg:128,densenet:128,wresnet:128')
p.add_argument('--threads', type=int, default=2)
p.add_argument('--steps', type=int, default=2, help='profiled steps on our side (PyTorch profiles one)')
p.add_argument('--isa', default='native', choices=['native', 'avx2'])
p.add_argument('--json', default=None, help='append both sides\' raw records here')
p.add_argument('--peak_gflops', type=float, default=0, help='passed to ours, for the conv shapes\' fraction of the FMA peak')
p.add_argument('--ours_json', default=None, help='append our raw JSON lines here (bench/conv_table.py reads them)')
a = p.parse_args()

TORCH_NAME = {'mnist-conv': 'mnist'}

# Our categories (tensor.OpProfile) and the PyTorch ops that do the same work.
OURS = {
    'conv forward': ['conv forward'],
    'conv gradients (dX + dW)': ['conv input grad', 'conv weight grad'],
    'batch norm': ['batch norm'],
    'pooling': ['pooling'],
    'elementwise (ReLU, adds)': ['elementwise'],
    'allocation, zero fills': ['allocation'],
}
TORCH = {
    'conv forward': ['aten::mkldnn_convolution', 'aten::thnn_conv2d', 'aten::_slow_conv2d_forward',
                     'aten::_convolution', 'aten::convolution', 'aten::conv2d'],
    'conv gradients (dX + dW)': ['aten::convolution_backward', 'aten::mkldnn_convolution_backward',
                                 'aten::_slow_conv2d_backward'],
    'batch norm': ['aten::native_batch_norm', 'aten::native_batch_norm_backward', 'aten::batch_norm',
                   'aten::_batch_norm_impl_index', 'aten::_batch_norm_impl_index_backward'],
    'pooling': ['aten::max_pool2d_with_indices', 'aten::max_pool2d_with_indices_backward',
                'aten::avg_pool2d', 'aten::avg_pool2d_backward', 'aten::adaptive_avg_pool2d',
                'aten::_adaptive_avg_pool2d', 'aten::_adaptive_avg_pool2d_backward'],
    'elementwise (ReLU, adds)': ['aten::relu', 'aten::relu_', 'aten::clamp_min', 'aten::clamp_min_',
                                 'aten::threshold_backward', 'aten::add', 'aten::add_', 'aten::mul',
                                 'aten::mul_', 'aten::cat', 'aten::copy_'],
    'allocation, zero fills': ['aten::empty', 'aten::zeros', 'aten::zero_', 'aten::fill_', 'aten::empty_strided',
                   'aten::empty_like', 'aten::zeros_like'],
}
UNIT = {'s': 1e3, 'ms': 1.0, 'us': 1e-3}
TIME = r'([0-9.]+)(s|ms|us)'


def ours(enc, batch):
    env = dict(os.environ)
    if a.isa == 'avx2':
        env['VMDLS_KERNELS'] = 'avx2'
    cmd = [a.vmdls, 'bench', 'train-step', '--enc_type', enc, '--batch_size', str(batch), '--threads',
           str(a.threads), '--steps', str(a.steps), '--warmup', '1', '--clean', '0', '--profile']
    if a.peak_gflops:
        cmd += ['--peak_gflops', str(a.peak_gflops)]
    line = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    if a.ours_json:
        with open(a.ours_json, 'a') as fh:
            fh.write(line + '\n')
    rec = json.loads(line)
    ms = {r['op']: r['ms_per_step'] for r in rec['profile']}
    return rec, ms, rec['s_med'] * 1e3


def torch_profile(enc, batch):
    env = dict(os.environ)
    if a.isa == 'avx2':
        env['ONEDNN_MAX_CPU_ISA'] = 'AVX2'
    cmd = ['/usr/bin/python3', os.path.join(a.anchors, 'nets.py'), '--model', TORCH_NAME.get(enc, enc), '--mode', 'train',
           '--batch', str(batch), '--threads', str(a.threads), '--steps', '1', '--warmup', '1', '--no-gate', '--profile']
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    ms, total = {}, None
    for line in out.splitlines():
        m = re.match(r'\s*Self CPU time total:\s*' + TIME, line)
        if m:
            total = float(m.group(1)) * UNIT[m.group(2)]
            continue
        # Name, Self CPU %, Self CPU, CPU total %, CPU total, CPU time avg, # of Calls
        m = re.match(r'\s*(\S+)\s+[0-9.]+%\s+' + TIME + r'\s+[0-9.]+%', line)
        if m:
            ms[m.group(1)] = ms.get(m.group(1), 0) + float(m.group(2)) * UNIT[m.group(3)]
    if total is None:
        raise SystemExit('nets.py --profile printed no "Self CPU time total" line:\n' + out)
    return ms, total


def split(ms, total, cats):
    got = {c: sum(ms.get(op, 0) for op in ops) for c, ops in cats.items()}
    got['rest'] = max(0.0, total - sum(got.values()))
    return got


def cell(v, total):
    return f'{v:,.0f} ({100 * v / total:.0f}%)'


out = open(a.json, 'a') if a.json else None
rows = []
for item in a.work.split(','):
    enc, batch = item.split(':')
    rec, oms, ostep = ours(enc, int(batch))
    oprof = sum(oms.values())
    tms, ttotal = torch_profile(enc, int(batch))
    o, t = split(oms, oprof, OURS), split(tms, ttotal, TORCH)
    rows.append((enc, batch, o, oprof, t, ttotal))
    if out:
        out.write(json.dumps({'enc_type': enc, 'batch': int(batch), 'isa': a.isa, 'ours': rec, 'torch_self_ms': tms,
                              'torch_total_ms': ttotal}) + '\n')
        out.flush()

cats = list(OURS) + ['rest']
print(f'ISA: {a.isa}; ms per training step (share of the step), ours | PyTorch')
print('| backbone, batch | side | step ms | ' + ' | '.join(cats) + ' |')
print('|---|---|---|' + '---|' * len(cats))
for enc, batch, o, oprof, t, ttotal in rows:
    print(f'| {enc}, {batch} | ours | {oprof:,.0f} | ' + ' | '.join(cell(o[c], oprof) for c in cats) + ' |')
    print(f'| {enc}, {batch} | PyTorch | {ttotal:,.0f} | ' + ' | '.join(cell(t[c], ttotal) for c in cats) + ' |')
