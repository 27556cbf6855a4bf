#!/usr/bin/python3
"""SGEMM of vmdls against OpenBLAS (numpy), measured side by side on this machine.

Run by hand from the repository root (needs Debian's python3-numpy, python3-threadpoolctl
and libopenblas0-pthread, and the anchors beside the checkout):

    go build -o /tmp/vmdls ./cmd/vmdls
    /usr/bin/python3 bench/gemm_sidebyside.py --vmdls /tmp/vmdls --rounds 3

For each round and thread count it runs `vmdls bench gemm` on every shape, then the anchor
script ../shared/anchors/gemm.py (OpenBLAS through numpy, OPENBLAS_NUM_THREADS set to the
thread count), so that both see the same machine state; the two alternate round by round.
It prints a table of the medians over rounds and their ratio (ours / OpenBLAS), and the
raw JSON lines with --json FILE. Extra OpenBLAS environment (for example
OPENBLAS_CORETYPE=SkylakeX for its AVX-512 kernels) passes through --openblas-env.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument('--vmdls', default='/tmp/vmdls', help='vmdls binary (go build -o /tmp/vmdls ./cmd/vmdls)')
p.add_argument('--anchors', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'anchors'))
p.add_argument('--threads', default='1,2')
p.add_argument('--shapes', default='sq256,sq512,sq1024,sq2048,conv100x900x25088,conv256x2304x1024')
p.add_argument('--rounds', type=int, default=3)
p.add_argument('--reps', type=int, default=5, help='timed runs per measurement on each side')
p.add_argument('--openblas-env', default='', help='extra KEY=VALUE,... for the OpenBLAS side')
p.add_argument('--interleave', default='round', choices=['round', 'shape'],
               help='round: all our shapes, then all of OpenBLAS\'s; shape: the two sides alternate shape by shape')
p.add_argument('--json', default=None)
a = p.parse_args()


def shape(s):
    if s.startswith('sq'):
        n = int(s[2:])
        return n, n, n
    m, k, n = map(int, s[4:].split('x'))
    return m, k, n


def ours(s, t):
    m, k, n = shape(s)
    out = subprocess.run([a.vmdls, 'bench', 'gemm', '--m', str(m), '--n', str(n), '--k', str(k),
                          '--threads', str(t), '--reps', str(a.reps)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)['gflops']


def openblas(shapes, t):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t))
    for kv in filter(None, a.openblas_env.split(',')):
        k, v = kv.split('=', 1)
        env[k] = v
    with tempfile.NamedTemporaryFile(suffix='.json') as f:
        subprocess.run(['/usr/bin/python3', os.path.join(a.anchors, 'gemm.py'), '--lib', 'numpy', '--threads', str(t),
                        '--shapes', ','.join(shapes), '--samples', str(a.reps), '--json', f.name, '--budget', '60'],
                       env=env, check=True, capture_output=True, text=True)
        return {r['shape']: r['gflops_med'] for r in map(json.loads, open(f.name))}


shapes = a.shapes.split(',')
threads = [int(t) for t in a.threads.split(',')]
res = {}  # (side, shape, threads) -> [per-round medians]
for r in range(a.rounds):
    for t in threads:
        if a.interleave == 'shape':
            # Each shape's two measurements seconds apart: on a virtual machine whose speed
            # drifts by 20% over minutes, a round of all our shapes and then all of
            # OpenBLAS's compares two different machines.
            for s in shapes:
                res.setdefault(('vmdls', s, t), []).append(ours(s, t))
                res.setdefault(('openblas', s, t), []).append(openblas([s], t)[s])
            continue
        for s in shapes:
            res.setdefault(('vmdls', s, t), []).append(ours(s, t))
        for s, g in openblas(shapes, t).items():
            res.setdefault(('openblas', s, t), []).append(g)
    print(f'# round {r + 1}/{a.rounds} done', file=sys.stderr, flush=True)

print(f'| shape (M x K x N) | threads | vmdls GFLOP/s | OpenBLAS GFLOP/s | ratio of medians | median of per-round ratios (each) |')
print('|---|---|---|---|---|---|')
for t in threads:
    for s in shapes:
        ov, bv = res[('vmdls', s, t)], res[('openblas', s, t)]
        o, b = statistics.median(ov), statistics.median(bv)
        per = [x / y for x, y in zip(ov, bv)]
        m, k, n = shape(s)
        each = ', '.join(f'{r:.2f}' for r in per)
        print(f'| {m}x{k}x{n} | {t} | {o:.1f} | {b:.1f} | {o / b:.2f} | {statistics.median(per):.2f} ({each}) |')
if a.json:
    with open(a.json, 'a') as fh:
        for (side, s, t), v in sorted(res.items()):
            fh.write(json.dumps(dict(side=side, shape=s, threads=t, round_medians=v)) + '\n')
