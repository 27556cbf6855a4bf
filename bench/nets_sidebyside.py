#!/usr/bin/python3
"""Training steps and inference of vmdls against PyTorch 1.13, side by side on this machine.

Run by hand from the repository root on a quiet machine (Debian's python3-torch and
python3-threadpoolctl, the anchors beside the checkout):

    go build -o /tmp/vmdls ./cmd/vmdls
    /usr/bin/python3 bench/nets_sidebyside.py --vmdls /tmp/vmdls --rounds 3 --isa native,avx2

For each round, ISA and workload it runs `vmdls bench train-step|infer`, then the anchor
../shared/anchors/nets.py on the same network, batch and thread count, so that both see the
same machine state. --isa avx2 runs our side with VMDLS_KERNELS=avx2 and PyTorch's with
ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN's own switch), so an AVX-512 machine also measures the
AVX2 case; native leaves both alone. Both sides gate their steps on the machine being
quiet (--clean). It prints the medians over rounds of images/s and peak RSS (ours: VmHWM of
the bench process; PyTorch: /usr/bin/time's maximum RSS of nets.py) and their ratios, and
the raw records as JSON lines with --json FILE.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument('--vmdls', default='/tmp/vmdls')
p.add_argument('--anchors', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'anchors'))
p.add_argument('--threads', type=int, default=2)
p.add_argument('--work', default='mnist-conv:train:160,resnet18:train:128,vgg:train:128,densenet:train:128,wresnet:train:128,'
               'mnist-conv:infer:2500,resnet18:infer:256,vgg:infer:256,densenet:infer:256,wresnet:infer:256',
               help='comma list of enc_type:train|infer:batch')
p.add_argument('--isa', default='native', help='comma list of native and avx2')
p.add_argument('--rounds', type=int, default=3)
p.add_argument('--steps', type=int, default=3)
p.add_argument('--warmup', type=int, default=1)
p.add_argument('--clean', type=float, default=0.25)
p.add_argument('--json', default=None)
a = p.parse_args()

TORCH_NAME = {'mnist-conv': 'mnist'}


def maxrss_kb(err):
    for line in err.splitlines():
        if 'Maximum resident set size' in line:
            return int(line.split(':')[1])
    return None


def ours(enc, mode, batch, isa):
    env = dict(os.environ)
    if isa == 'avx2':
        env['VMDLS_KERNELS'] = 'avx2'
    cmd = [a.vmdls, 'bench', 'train-step' if mode == 'train' else 'infer', '--enc_type', enc, '--batch_size', str(batch),
           '--threads', str(a.threads), '--steps', str(a.steps), '--warmup', str(a.warmup), '--clean', str(a.clean)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r['images_per_s'], r['peak_rss_mb']


def torch(enc, mode, batch, isa):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads))
    if isa == 'avx2':
        env['ONEDNN_MAX_CPU_ISA'] = 'AVX2'
    with tempfile.NamedTemporaryFile('r', suffix='.jsonl') as js:
        cmd = ['/usr/bin/time', '-v', '/usr/bin/python3', os.path.join(a.anchors, 'nets.py'), '--model', TORCH_NAME.get(enc, enc),
               '--mode', mode, '--batch', str(batch), '--threads', str(a.threads), '--steps', str(a.steps),
               '--warmup', str(a.warmup), '--json', js.name]
        # nets.py gates on load below --clean; 0 would wait forever, --no-gate is its "time every step".
        cmd += ['--no-gate'] if a.clean == 0 else ['--clean', str(a.clean)]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        rec = json.loads(open(js.name).read().strip().splitlines()[-1])
    return rec['img_per_s_med'], maxrss_kb(r.stderr) / 1024


work = [w.split(':') for w in a.work.split(',')]
isas = a.isa.split(',')
rows = {}
out = open(a.json, 'a') if a.json else None
for rnd in range(a.rounds):
    for isa in isas:
        for enc, mode, batch in work:
            batch = int(batch)
            o = ours(enc, mode, batch, isa)
            t = torch(enc, mode, batch, isa)
            rec = dict(round=rnd, isa=isa, enc_type=enc, mode=mode, batch=batch, threads=a.threads,
                       ours_img_s=o[0], ours_rss_mb=o[1], torch_img_s=t[0], torch_rss_mb=t[1])
            print(json.dumps(rec), flush=True)
            if out:
                out.write(json.dumps(rec) + '\n')
                out.flush()
            rows.setdefault((isa, enc, mode, batch), []).append(rec)

print(f'\n| ISA | workload ({a.threads} threads) | vmdls img/s | PyTorch img/s | ratio | vmdls peak MiB | PyTorch peak MiB |')
print('|---|---|---|---|---|---|---|')
for (isa, enc, mode, batch), rs in rows.items():
    med = lambda k: statistics.median(r[k] for r in rs)
    ratios = ', '.join(f"{r['ours_img_s'] / r['torch_img_s']:.2f}" for r in rs)
    print(f"| {isa} | {enc} {mode} {batch} | {med('ours_img_s'):.1f} | {med('torch_img_s'):.1f} | "
          f"{med('ours_img_s') / med('torch_img_s'):.2f} ({ratios}) | {med('ours_rss_mb'):.0f} | {med('torch_rss_mb'):.0f} |")
