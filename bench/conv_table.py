#!/usr/bin/python3
"""The effective GFLOP/s of each convolution shape in a training step, as a Markdown table.

Reads the JSON lines of profiled runs (`vmdls bench train-step --profile --peak_gflops P`,
one line per backbone, P the FMA peak that ../shared/anchors/fma_peak.c measures for the
threads used) and prints, per backbone, the shapes that take the most convolution time:
direction, shape, calls and milliseconds per step, GFLOP/s counted as a direct convolution
(Winograd layers may exceed the peak) and the fraction of the peak; the rest of the
convolution time is summed in one line.

    for e in mnist-conv resnet18 vgg densenet wresnet; do
      vmdls bench train-step --enc_type $e --batch_size B --threads 2 --steps 2 --warmup 1 \\
        --clean 0 --profile --peak_gflops P; done > convs.jsonl
    /usr/bin/python3 bench/conv_table.py convs.jsonl --top 6
"""
import argparse, json

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument('jsonl')
p.add_argument('--top', type=int, default=6, help='shapes per backbone; the rest are summed')
a = p.parse_args()

print('| backbone | direction | shape (N×C×H×W, K, kernel, stride, pad) | calls/step | ms/step | GFLOP/s | of peak |')
print('|---|---|---|---|---|---|---|')
for line in open(a.jsonl):
    r = json.loads(line)
    convs = r.get('convs') or []
    total = sum(c['ms_per_step'] for c in convs)
    for c in convs[:a.top]:
        frac = c.get('peak_fraction')
        print('| %s | %s | %s | %d | %.1f | %.1f | %s |' % (
            r['enc_type'], c['op'].replace('conv ', ''), c['shape'], c['calls_per_step'],
            c['ms_per_step'], c['gflops'], '%.0f%%' % (100 * frac) if frac else '—'))
    rest = convs[a.top:]
    if rest:
        ms = sum(c['ms_per_step'] for c in rest)
        print('| %s | %d others | | | %.1f (%.0f%% of conv time) | | |' % (r['enc_type'], len(rest), ms, 100 * ms / total))
