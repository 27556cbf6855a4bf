#!/usr/bin/python3
"""Generate the PyTorch reference ("golden") file for the vmdls nn layer tests.

Run by hand from the repository root with Debian's interpreter and python3-torch:

    /usr/bin/python3 nn/testdata/gen_layers.py

It rewrites nn/testdata/layers.safetensors. Tests and CI never run it; they read the
committed file with the reader in internal/golden. The format and naming follow
internal/golden/testdata/gen_golden.py (whose Writer this script reuses):

    <case>.in0, .in1        inputs (float32); .out the forward output; .w the random
                            upstream weight of loss = (out * w).sum(); .grad<i> d loss/d in<i>
    <case>.<param>          the layer's parameters and buffers before the call, by their
                            PyTorch names (weight, bias, running_mean, running_var)
    <case>.grad_<param>     d loss / d parameter
    <case>.<buffer>_after   buffers after the call (batch norm in training mode)
    <case>.indices          max pooling: the returned indices (flat within each plane)

Whole-network cases store parameters as <case>.param.<state_dict key> and their gradients
as <case>.grad.<state_dict key>.

__metadata__[<case>] is a JSON object with "op", "family": "nn", "inputs", "grads",
"ref" and the layer's settings (kernel, stride, padding, output_padding, training,
count_include_pad, size, scale, ...).

Precision: inputs and parameters are drawn in float32, then the layer runs in float64
(module.double()) on exact upcasts, and the results are rounded once to float32, so a Go
test's error is its own float32 error. Each case draws from a torch.Generator seeded with
the CRC-32 of its name.
"""

import os
import sys

import torch
import torch.nn as tnn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "internal", "golden", "testdata"))
import gen_golden as gg  # noqa: E402  (Writer, gen_for, randn, away_from)

F64 = torch.float64
OUT = os.path.join(HERE, "layers.safetensors")


def run_module(wr, name, op, module, inputs, params, meta, training=True, buffers_after=(), indices=False):
    """Runs module (in float64) on inputs; records inputs, parameters, output and the
    gradients of (out * w).sum() with respect to the inputs and every parameter."""
    g = gg.gen_for(name + "/w")
    module = module.double()
    module.train(training)
    for pname, t in module.state_dict().items():
        if pname == "num_batches_tracked":
            continue
        wr.add("%s.%s" % (name, pname), t)
    xs = []
    for i, x in enumerate(inputs):
        x64 = x.to(F64).requires_grad_(True)
        xs.append(x64)
        wr.add("%s.in%d" % (name, i), x)
    res = module(*xs)
    if indices:
        res, idx = res
        wr.add(name + ".indices", idx.to(torch.float32))
    wr.add(name + ".out", res)
    w = gg.randn(g, tuple(res.shape))
    wr.add(name + ".w", w)
    loss = (res * w.to(F64)).sum()
    named = [(n, p) for n, p in module.named_parameters()]
    grads = torch.autograd.grad(loss, xs + [p for _, p in named])
    for i in range(len(xs)):
        wr.add("%s.grad%d" % (name, i), grads[i])
    for (pname, _), gr in zip(named, grads[len(xs):]):
        wr.add("%s.grad_%s" % (name, pname), gr)
    for b in buffers_after:
        wr.add("%s.%s_after" % (name, b), module.state_dict()[b])
    m = {"op": op, "family": "nn", "inputs": len(inputs), "grads": list(range(len(inputs))), "ref": "float64",
         "training": training}
    m.update(meta)
    wr.add_case(name, m)


def set_params(module, g, scale=0.3):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(gg.randn(g, tuple(p.shape), scale))


def conv_cases(wr):
    specs = [
        # name, N, Cin, H, W, Cout, (kh, kw), stride, padding, bias
        ("conv_k3_s1_p1", 2, 3, 7, 6, 4, (3, 3), (1, 1), (1, 1), True),
        ("conv_k3_s2_p1_nobias", 1, 4, 9, 8, 5, (3, 3), (2, 2), (1, 1), False),
        ("conv_k3_s2_p0", 2, 3, 8, 11, 4, (3, 3), (2, 2), (0, 0), True),
        ("conv_k1", 3, 8, 5, 5, 6, (1, 1), (1, 1), (0, 0), True),
        ("conv_k1_s2_nobias", 2, 8, 8, 8, 16, (1, 1), (2, 2), (0, 0), False),
        ("conv_k5_p2", 1, 2, 10, 10, 3, (5, 5), (1, 1), (2, 2), True),
        ("conv_rect", 2, 3, 7, 9, 4, (2, 3), (2, 1), (1, 0), True),
        ("conv_cin1", 2, 1, 28, 28, 8, (3, 3), (1, 1), (1, 1), True),
        ("conv_batch1_wide", 1, 16, 4, 4, 32, (3, 3), (1, 1), (1, 1), True),
    ]
    for name, n, cin, h, w, cout, k, s, p, bias in specs:
        g = gg.gen_for(name)
        x = gg.randn(g, (n, cin, h, w))
        m = tnn.Conv2d(cin, cout, k, stride=s, padding=p, bias=bias)
        set_params(m, g)
        run_module(wr, name, "conv2d", m, [x], None,
                   {"kernel": list(k), "stride": list(s), "padding": list(p), "bias": bias})


def convt_cases(wr):
    specs = [
        # name, N, Cin, H, W, Cout, k, stride, padding, output_padding, bias
        ("convt_k2_s1", 2, 5, 3, 3, 4, 2, 1, 0, 0, True),
        ("convt_k2_s2", 2, 5, 4, 3, 3, 2, 2, 0, 0, True),
        ("convt_k3_s2_p1_op1", 1, 3, 4, 5, 2, 3, 2, 1, 1, True),
        ("convt_k4_s2_p1_nobias", 2, 4, 3, 3, 3, 4, 2, 1, 0, False),
    ]
    for name, n, cin, h, w, cout, k, s, p, op, bias in specs:
        g = gg.gen_for(name)
        x = gg.randn(g, (n, cin, h, w))
        m = tnn.ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op, bias=bias)
        set_params(m, g)
        run_module(wr, name, "conv_transpose2d", m, [x], None,
                   {"kernel": [k, k], "stride": [s, s], "padding": [p, p], "output_padding": [op, op], "bias": bias})


def linear_cases(wr):
    for name, n, fin, fout, bias in [("linear_bias", 5, 7, 3, True), ("linear_nobias_batch1", 1, 4, 2, False)]:
        g = gg.gen_for(name)
        x = gg.randn(g, (n, fin))
        m = tnn.Linear(fin, fout, bias=bias)
        set_params(m, g)
        run_module(wr, name, "linear", m, [x], None, {"bias": bias})


def bn_cases(wr):
    specs = [
        ("bn_train_affine", (4, 3, 5, 6), True, True),
        ("bn_eval_affine", (4, 3, 5, 6), True, False),
        ("bn_train_noaffine", (2, 4, 3, 3), False, True),
        ("bn_eval_noaffine", (2, 4, 3, 3), False, False),
        ("bn_train_batch1", (1, 3, 4, 5), True, True),
        ("bn_train_offset", (3, 2, 4, 4), True, True),
    ]
    for name, shape, affine, training in specs:
        g = gg.gen_for(name)
        x = gg.randn(g, shape)
        if name.endswith("offset"):
            x = (x * 0.5 + 20).to(torch.float32)  # large mean, small spread
        m = tnn.BatchNorm2d(shape[1], affine=affine)
        with torch.no_grad():
            if affine:
                m.weight.copy_(gg.uniform(g, (shape[1],), 0.5, 1.5))
                m.bias.copy_(gg.randn(g, (shape[1],), 0.3))
            m.running_mean.copy_(gg.randn(g, (shape[1],), 0.5))
            m.running_var.copy_(gg.uniform(g, (shape[1],), 0.5, 2.0))
        run_module(wr, name, "batch_norm2d", m, [x], None, {"affine": affine, "eps": 1e-5, "momentum": 0.1},
                   training=training, buffers_after=("running_mean", "running_var") if training else ())


class MaxPool(tnn.Module):
    def __init__(self, k, s, p):
        super().__init__()
        self.k, self.s, self.p = k, s, p

    def forward(self, x):
        return F.max_pool2d(x, self.k, self.s, self.p, return_indices=True)


def pool_cases(wr):
    for name, shape, k, s, p in [("maxpool_k2_s2", (2, 3, 6, 7), 2, 2, 0),
                                 ("maxpool_k3_s2_p1", (1, 2, 9, 8), 3, 2, 1),
                                 ("maxpool_k3_s1_p1", (2, 2, 5, 4), 3, 1, 1)]:
        g = gg.gen_for(name)
        # Distinct values so the maximum of every window is unambiguous.
        x = (torch.randperm(int(torch.tensor(shape).prod()), generator=g).to(torch.float32) * 0.01 - 1).reshape(shape)
        run_module(wr, name, "max_pool2d", MaxPool(k, s, p), [x], None,
                   {"kernel": [k, k], "stride": [s, s], "padding": [p, p]}, indices=True)
    for name, shape, k, s, p, inc in [("avgpool_k2_s2", (2, 3, 6, 7), 2, 2, 0, True),
                                      ("avgpool_k3_s2_p1", (1, 2, 9, 8), 3, 2, 1, True),
                                      ("avgpool_k3_s2_p1_exclpad", (1, 2, 9, 8), 3, 2, 1, False)]:
        g = gg.gen_for(name)
        x = gg.randn(g, shape)
        run_module(wr, name, "avg_pool2d", tnn.AvgPool2d(k, s, p, count_include_pad=inc), [x], None,
                   {"kernel": [k, k], "stride": [s, s], "padding": [p, p], "count_include_pad": inc})
    g = gg.gen_for("adaptive_avg_1x1")
    run_module(wr, "adaptive_avg_1x1", "adaptive_avg_pool2d", tnn.AdaptiveAvgPool2d(1), [gg.randn(g, (2, 3, 5, 7))], None,
               {"size": [1, 1]})


def misc_cases(wr):
    for name, shape, kw in [("upsample_scale2", (1, 2, 3, 4), {"scale_factor": 2.0}),
                            ("upsample_scale1_5", (2, 1, 3, 4), {"scale_factor": 1.5}),
                            ("upsample_size5x7", (1, 2, 3, 4), {"size": (5, 7)}),
                            ("upsample_size8x8", (1, 1, 4, 4), {"size": (8, 8)})]:
        g = gg.gen_for(name)
        meta = {"scale": kw.get("scale_factor", 0.0), "size": list(kw.get("size", (0, 0)))}
        run_module(wr, name, "upsample_nearest", tnn.Upsample(mode="nearest", **kw), [gg.randn(g, shape)], None, meta)
    g = gg.gen_for("relu")
    run_module(wr, "relu", "relu", tnn.ReLU(), [gg.away_from(gg.randn(g, (2, 3, 4, 5)), [0.0])], None, {})

    class MSE(tnn.Module):
        def forward(self, a, b):
            return F.mse_loss(a, b)
    g = gg.gen_for("mse")
    run_module(wr, "mse", "mse_loss", MSE(), [gg.randn(g, (3, 4)), gg.randn(g, (3, 4))], None, {})


def net_case(wr, name, training):
    """A small conv net (conv-BN-ReLU, conv-BN-ReLU, max pool, flatten, linear) as one
    Sequential: checks module composition, state_dict names and every parameter gradient."""
    g = gg.gen_for(name)
    net = tnn.Sequential(
        tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
        tnn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), tnn.BatchNorm2d(6), tnn.ReLU(),
        tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(6 * 2 * 2, 3))
    set_params(net, g)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.weight.copy_(gg.uniform(g, tuple(m.weight.shape), 0.5, 1.5))
                m.running_var.copy_(gg.uniform(g, tuple(m.running_var.shape), 0.5, 2.0))
    x = gg.randn(g, (3, 1, 9, 9))
    net = net.double().train(training)
    for k, t in net.state_dict().items():
        wr.add("%s.param.%s" % (name, k), t)
    x64 = x.to(F64).requires_grad_(True)
    out = net(x64)
    w = gg.randn(gg.gen_for(name + "/w"), tuple(out.shape))
    loss = (out * w.to(F64)).sum()
    named = list(net.named_parameters())
    grads = torch.autograd.grad(loss, [x64] + [p for _, p in named])
    wr.add(name + ".in0", x)
    wr.add(name + ".out", out)
    wr.add(name + ".w", w)
    wr.add(name + ".grad0", grads[0])
    for (k, _), gr in zip(named, grads[1:]):
        wr.add("%s.grad.%s" % (name, k), gr)
    for k, t in net.state_dict().items():
        wr.add("%s.after.%s" % (name, k), t)
    wr.add_case(name, {"op": "net", "family": "nn", "inputs": 1, "grads": [0], "ref": "float64", "training": training})


def main():
    torch.set_num_threads(1)
    wr = gg.Writer(OUT)
    conv_cases(wr)
    convt_cases(wr)
    linear_cases(wr)
    bn_cases(wr)
    pool_cases(wr)
    misc_cases(wr)
    net_case(wr, "net_train", True)
    net_case(wr, "net_eval", False)
    n = wr.write()
    print("wrote %s (%d bytes, %d tensors)" % (OUT, n, len(wr.tensors)))


if __name__ == "__main__":
    main()
