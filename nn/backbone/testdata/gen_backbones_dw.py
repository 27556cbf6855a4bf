#!/usr/bin/python3
"""Generate the PyTorch reference ("golden") file for the densenet and wresnet backbones.

Run by hand from the repository root with an interpreter that has torch 1.13:

    python3 nn/backbone/testdata/gen_backbones_dw.py

It rewrites nn/backbone/testdata/backbones_dw.safetensors; tests read it with internal/golden.
The networks mirror ../shared/anchors/nets.py (DenseNetBC, WRNBlock, WideResNet: same module
structure and names, "net.0.weight", "net.1.short.weight", ...). The Go networks carry the
names of the authors' code instead (DenseNet3's conv1, block1.layer.0..., trans1, bn1, fc;
WideResNet's block1.layer.0.convShortcut...; gen_reference_golden.py checks those), and
backbone_golden_dw_test.go maps them onto these (dwMirrorNames) to fill, compare keys and
name gradients; the computation is the same.

Weights are not stored: DenseNet-BC-100 (0.8M parameters) and WideResNet-28-10 (36.5M) are
too large to commit. Instead every state_dict tensor (parameters and running statistics) is
filled by fill() below, a counter-based generator (splitmix64 of crc32(key) << 32 | index)
that the Go test reimplements bit for bit; only the inputs, outputs and gradients are stored.

Cases (tensor names <case>.<what>):
  dense_eval, dense_train   DenseNet-BC-100 (k=12, reduction 0.5) in eval / train mode.
  wrn_eval                  WideResNet-28-10 (dropout 0.1, inactive) in eval mode.
  wrn_train0                WideResNet-28-10 in train mode with dropout p=0: train-mode batch
                            norm without a random mask.
  wrn28_10_keys, dense100_keys   metadata only: the state_dict keys with shapes and the
                            parameter count of the reference modules built as nets.py does.
Each forward case stores .x (2 x 3 x 32 x 32), .h, .tap0 .. .tap2 (global-average-pooled),
.w (the random weight of loss = (h * w).sum()), .gradx = d loss / d x, and
.grad.<key> = d loss / d parameter for a few named parameters, and .kinks, .kink_counts:
the ReLU kink log of the forward (kinks.py), which the Go test replays so that float32
rounding cannot flip a ReLU the float64 reference decided within 1e-4 relative of zero.
Everything runs in float64 on exact upcasts of float32 draws and is rounded once to float32.
"""

import json
import math
import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "internal", "golden", "testdata"))
import gen_golden as gg  # noqa: E402
sys.path.insert(0, HERE)
from kinks import KINK_REL, KINKS, ReLU  # noqa: E402
relu = KINKS.relu

F64 = torch.float64
OUT = os.path.join(HERE, "backbones_dw.safetensors")


# ---- the reference modules, as in ../shared/anchors/nets.py ----
class Bottleneck(nn.Module):
    def __init__(self, cin, k):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin); self.conv1 = nn.Conv2d(cin, 4 * k, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * k); self.conv2 = nn.Conv2d(4 * k, k, 3, 1, 1, bias=False)

    def forward(self, x):
        y = self.conv1(relu(self.bn1(x)))
        y = self.conv2(relu(self.bn2(y)))
        return torch.cat([x, y], 1)


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin); self.conv = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(relu(self.bn(x))), 2)


class DenseNetBC(nn.Module):
    def __init__(self, depth=100, k=12, reduction=0.5):
        super().__init__()
        n = (depth - 4) // 6
        c = 2 * k
        layers = [nn.Conv2d(3, c, 3, 1, 1, bias=False)]
        self.taps = []
        for b in range(3):
            for _ in range(n):
                layers.append(Bottleneck(c, k)); c += k
            if b < 2:
                co = int(c * reduction); layers.append(Transition(c, co)); c = co
                self.taps.append(len(layers) - 1)
        layers += [nn.BatchNorm2d(c), ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.out_dim = c
        for m in self.modules():   # the reference's DenseNet init
            if isinstance(m, nn.Conv2d):
                m.weight.data.normal_(0, math.sqrt(2. / 16))

    def forward(self, x):
        return self.net(x)


class WRNBlock(nn.Module):
    def __init__(self, cin, cout, stride, drop):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin); self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout); self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.equal = cin == cout
        self.short = None if self.equal else nn.Conv2d(cin, cout, 1, stride, 0, bias=False)
        self.drop = drop

    def forward(self, x):
        o = relu(self.bn1(x))
        y = self.conv1(o)
        y = relu(self.bn2(y))
        if self.drop > 0:
            y = F.dropout(y, p=self.drop, training=self.training)
        y = self.conv2(y)
        return y + (x if self.equal else self.short(o))


class WideResNet(nn.Module):
    def __init__(self, depth=28, widen=10, drop=0.1):
        super().__init__()
        n = (depth - 4) // 6
        ch = [16, 16 * widen, 32 * widen, 64 * widen]
        L = [nn.Conv2d(3, ch[0], 3, 1, 1, bias=False)]
        cin = ch[0]
        self.taps = []
        for i, (c, s) in enumerate(zip(ch[1:], [1, 2, 2])):
            for j in range(n):
                L.append(WRNBlock(cin, c, s if j == 0 else 1, drop)); cin = c
            if i < 2:
                self.taps.append(len(L) - 1)
        L += [nn.BatchNorm2d(cin), ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.net = nn.Sequential(*L)

    def forward(self, x):
        return self.net(x)


def forward_taps(model, x):
    """h and the three pooled taps from one pass through model.net (tap 3 is h)."""
    taps = []
    for i, m in enumerate(model.net):
        x = m(x)
        if i in model.taps:
            taps.append(x.mean((2, 3)))
    return x, taps + [x]


M64 = (1 << 64) - 1


def fill_values(key, n, lo, hi):
    """n float32 values uniform in [lo, hi): u = top 24 bits of splitmix64((crc32(key) << 32) + i)
    / 2^24, value = float32(lo + (hi - lo) * u) computed in float64 (exact in both languages)."""
    import numpy as np
    with np.errstate(over="ignore"):
        z = (np.uint64(zlib.crc32(key.encode()) << 32) + np.arange(n, dtype=np.uint64)
             + np.uint64(0x9E3779B97F4A7C15))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return torch.from_numpy((lo + (hi - lo) * u).astype(np.float32))


def fill_range(key, shape):
    """The range each kind of state_dict tensor is drawn from (batchnorm2d buffers and
    affine parameters by name, convolution weights by their fan-in)."""
    if key.endswith(".running_mean"):
        return -0.3, 0.3
    if key.endswith(".running_var"):
        return 0.5, 2.0
    if key.endswith(".bias"):
        return -0.2, 0.2
    if len(shape) == 1:
        return 0.5, 1.5
    b = math.sqrt(3.0 / (shape[1] * shape[2] * shape[3]))
    return -b, b


def fill(model):
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if k.endswith("num_batches_tracked"):
                continue
            lo, hi = fill_range(k, tuple(v.shape))
            v.copy_(fill_values(k, v.numel(), lo, hi).reshape(v.shape))


def keys_case(wr, name, model):
    sd = model.state_dict()
    wr.add_case(name, {"op": "state_dict_keys", "family": "backbone",
                       "keys": [[k, list(v.shape)] for k, v in sd.items()],
                       "params": sum(p.numel() for p in model.parameters())})


def run(wr, name, model, x, training, grad_params):
    model.train(training)
    g = gg.gen_for(name + "/w")
    x64 = x.to(F64).requires_grad_(True)
    KINKS.on = True
    h, taps = forward_taps(model, x64)
    KINKS.on = False
    w = gg.randn(g, tuple(h.shape))
    loss = (h * w.to(F64)).sum()
    named = dict(model.named_parameters())
    grads = torch.autograd.grad(loss, [x64] + [named[k] for k in grad_params])
    wr.add(name + ".x", x)
    wr.add(name + ".h", h)
    for i, t in enumerate(taps):
        wr.add("%s.tap%d" % (name, i), t)
    wr.add(name + ".w", w)
    wr.add(name + ".gradx", grads[0])
    for k, gr in zip(grad_params, grads[1:]):
        wr.add("%s.grad.%s" % (name, k), gr)
    nk = KINKS.save(wr, name)
    print("%s: %d near-kink ReLU inputs logged" % (name, nk))
    wr.add_case(name, {"op": "backbone", "family": "backbone", "training": training,
                       "grad_params": grad_params, "ref": "float64", "kink_rel": KINK_REL})


def main():
    wr = gg.Writer(OUT)

    torch.manual_seed(0)
    dense = DenseNetBC()
    keys_case(wr, "dense100_keys", dense)
    fill(dense)
    dense = dense.double()
    x = fill_values("dense/x", 2 * 3 * 32 * 32, -2.0, 2.0).reshape(2, 3, 32, 32)
    last = "net.%d.weight" % (len(dense.net) - 4)
    gp = ["net.0.weight", "net.1.conv2.weight", last]
    run(wr, "dense_eval", dense, x, False, gp)
    run(wr, "dense_train", dense, x, True, gp)

    torch.manual_seed(0)
    wrn = WideResNet()
    keys_case(wr, "wrn28_10_keys", wrn)
    fill(wrn)
    wrn = wrn.double()
    x = fill_values("wrn/x", 2 * 3 * 32 * 32, -2.0, 2.0).reshape(2, 3, 32, 32)
    gp = ["net.0.weight", "net.1.short.weight", "net.%d.bias" % (len(wrn.net) - 4)]
    run(wr, "wrn_eval", wrn, x, False, gp)
    for m in wrn.modules():
        if isinstance(m, WRNBlock):
            m.drop = 0.0
    run(wr, "wrn_train0", wrn, x, True, gp)

    n = wr.write()
    print("wrote %s (%d bytes)" % (OUT, n))


if __name__ == "__main__":
    main()
