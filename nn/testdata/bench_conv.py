#!/usr/bin/python3
"""PyTorch side of BenchmarkConv2d (kernels/conv_bench_test.go): the same conv shapes,
forward and backward (input and weight gradients), median time per call, GFLOP/s.

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 nn/testdata/bench_conv.py [--threads 2] [--batch N]

Run it interleaved with `go test ./kernels -run X -bench Conv2d` (the machine is shared and
noisy) and compare medians. FLOPs: forward 2*N*K*C*KH*KW*OH*OW; backward twice that.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

SHAPES = [
    # name, C, H, K (3x3, stride 1, pad 1), batch (the training batch, as in the Go benchmark)
    ("mnist_100x100_28x28", 100, 28, 100, 160),
    ("resnet_64_32x32", 64, 32, 64, 128),
    ("resnet_128_16x16", 128, 16, 128, 128),
    ("resnet_256_8x8", 256, 8, 256, 128),
    ("resnet_512_4x4", 512, 4, 512, 128),
]


def median_time(fn, reps, warm=2):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=0, help="override every shape's batch")
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    for name, c, h, k, batch in SHAPES:
        batch = a.batch or batch
        x = torch.randn(batch, c, h, h, generator=g)
        w = torch.randn(k, c, 3, 3, generator=g)
        b = torch.randn(k, generator=g)
        flops = 2.0 * batch * k * c * 9 * h * h
        with torch.no_grad():
            tf = median_time(lambda: F.conv2d(x, w, b, padding=1), a.reps)
        xr, wr, br = x.clone().requires_grad_(), w.clone().requires_grad_(), b.clone().requires_grad_()
        y = F.conv2d(xr, wr, br, padding=1)
        gy = torch.randn(y.shape, generator=g)

        def bwd():
            torch.autograd.grad(y, [xr, wr, br], gy, retain_graph=True)
        tb = median_time(bwd, a.reps)
        for mode, t, f in (("forward", tf, flops), ("backward", tb, 2 * flops)):
            print(json.dumps({"engine": "torch " + torch.__version__, "mode": mode, "shape": name, "batch": batch,
                              "threads": a.threads, "ms": round(t * 1e3, 2), "gflops": round(f / t / 1e9, 1),
                              "images_per_s": round(batch / t, 1)}))


if __name__ == "__main__":
    main()
