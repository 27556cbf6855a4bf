#!/usr/bin/python3
"""Generate the PyTorch reference ("golden") file for the vgg and resnet18 backbones.

Run by hand from the repository root with Debian's interpreter and python3-torch:

    /usr/bin/python3 nn/backbone/testdata/gen_backbones_ab.py

It rewrites nn/backbone/testdata/backbones_ab.safetensors, read by
nn/backbone/backbone_golden_ab_test.go through internal/golden.

The nets mirror ../shared/anchors/nets.py: VGGM as written there, and resnet18_cifar
rebuilt here module by module with torchvision's names (torchvision is not installed;
the structure is torchvision 0.14's resnet18 with conv1 = Conv2d(3, 64, 3, 1, 1,
bias=False), maxpool = fc = Identity).

Weights are too large to commit (vgg 8.5M, resnet18 11.2M parameters), so they are not
drawn by torch but by a counter-based hash that the Go test recomputes bit for bit
(detfill below, detFill in the test): value i of the tensor under key k is
center + bound * (2 * (mix(i * 0x9E3779B1 + crc32(k)) + 0.5) / 2^32 - 1), in float64,
rounded once to float32. Per key, __metadata__[<case>]["keys"] lists
[key, shape, center, bound] in state_dict order (PyTorch's key list, checked by the
test); <case>.probe holds the first 4 values of every tensor, concatenated in that order,
so the test checks its regeneration exactly.

Per case (vgg_train, vgg_eval, resnet18_train, resnet18_eval):
    <case>.in0          input [2, 3, 32, 32]
    <case>.out          h
    <case>.tap0..tap2   the three taps of METHOD.md section 6, global-average-pooled [2, C]
    <case>.w            upstream weight of loss = (h * w).sum()
    <case>.grad0        d loss / d input
    <case>.grad.<key>   d loss / d parameter, for a few named parameters
    <case>.after.<key>  batch-norm running statistics after the call (training cases)

The nets run in float64 (module.double()) on the float32 values, so a Go test's error
is its own float32 error.
"""

import json
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "internal", "golden", "testdata"))
import gen_golden as gg  # noqa: E402  (Writer, gen_for, randn)

F64 = torch.float64
OUT = os.path.join(HERE, "backbones_ab.safetensors")
M32 = 0xFFFFFFFF


class VGGM(nn.Module):
    """nets.py VGGM, verbatim."""
    def __init__(self):
        super().__init__()
        L = []
        cin = 3
        for c in [64, 128, 'M', 256, 256, 'M', 256, 256, 256, 256, 'M']:
            if c == 'M':
                L.append(nn.MaxPool2d(2, 2))
            else:
                L += [nn.Conv2d(cin, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
                cin = c
        L += [nn.Flatten(), nn.Linear(256 * 4 * 4, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU()]
        self.encoder = nn.Sequential(*L)

    def forward(self, x):
        return self.encoder(x)


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock (registration order conv1, bn1, relu, conv2, bn2, downsample)."""
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + idt)


class ResNet18Cifar(nn.Module):
    """torchvision resnet18 as nets.py resnet18_cifar modifies it."""
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        cin = 64
        for i, c in enumerate([64, 128, 256, 512]):
            s = 1 if i == 0 else 2
            setattr(self, "layer%d" % (i + 1), nn.Sequential(BasicBlock(cin, c, s), BasicBlock(c, c, 1)))
            cin = c
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Identity()

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def mix(u):
    u = u & M32
    u ^= u >> 16
    u = (u * 0x7FEB352D) & M32
    u ^= u >> 15
    u = (u * 0x846CA68B) & M32
    u ^= u >> 16
    return u


def detfill(key, n, center, bound):
    i = np.arange(n, dtype=np.uint64)
    u = mix(i * np.uint64(0x9E3779B1) + np.uint64(zlib.crc32(key.encode("utf-8"))))
    t = (u.astype(np.float64) + 0.5) / 2.0 ** 32 * 2.0 - 1.0
    return (center + bound * t).astype(np.float32)


def spec(model, key, t):
    """(center, bound) of a state_dict entry's deterministic values."""
    leaf = key.rsplit(".", 1)[-1]
    mod = model.get_submodule(key.rsplit(".", 1)[0])
    if isinstance(mod, nn.BatchNorm2d):
        return {"weight": (1.0, 0.2), "bias": (0.0, 0.2), "running_mean": (0.0, 0.2),
                "running_var": (1.0, 0.3), "num_batches_tracked": (0.0, 0.0)}[leaf]
    w = mod.weight
    fan_in = w.shape[1] * int(np.prod(w.shape[2:]))
    return (0.0, 1.0 / np.sqrt(fan_in))


def fill(model):
    keys, probe = [], []
    sd = model.state_dict()
    for k, t in sd.items():
        c, b = spec(model, k, t)
        keys.append([k, list(t.shape), c, float(b)])
        if k.endswith("num_batches_tracked"):
            continue
        v = detfill(k, t.numel(), c, b)
        with torch.no_grad():
            t.copy_(torch.from_numpy(v.reshape(tuple(t.shape))))
        probe.append(v[:4])
    return keys, np.concatenate(probe)


def case(wr, name, make, tap_modules, grad_keys, training):
    model = make()
    keys, probe = fill(model)
    nparams = sum(p.numel() for p in model.parameters())
    model = model.double().train(training)
    g = gg.gen_for(name + "/x")
    x = gg.randn(g, (2, 3, 32, 32))
    taps = [None] * 3
    hooks = []
    for j, m in enumerate(tap_modules(model)):
        def hook(mod, inp, out, j=j):
            taps[j] = out.mean(dim=(2, 3))
        hooks.append(m.register_forward_hook(hook))
    x64 = x.to(F64).requires_grad_(True)
    h = model(x64)
    for hk in hooks:
        hk.remove()
    w = gg.randn(gg.gen_for(name + "/w"), tuple(h.shape))
    loss = (h * w.to(F64)).sum()
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(loss, [x64] + [params[k] for k in grad_keys])
    wr.add(name + ".in0", x)
    wr.add(name + ".out", h)
    for j in range(3):
        wr.add("%s.tap%d" % (name, j), taps[j])
    wr.add(name + ".w", w)
    wr.add(name + ".grad0", grads[0])
    for k, gr in zip(grad_keys, grads[1:]):
        wr.add("%s.grad.%s" % (name, k), gr)
    wr.add(name + ".probe", torch.from_numpy(probe))
    if training:
        for k, t in model.state_dict().items():
            if k.endswith("running_mean") or k.endswith("running_var"):
                wr.add("%s.after.%s" % (name, k), t)
    wr.add_case(name, {"op": name.rsplit("_", 1)[0], "family": "backbone", "inputs": 1, "grads": [0],
                       "ref": "float64", "training": training, "keys": keys, "num_params": nparams,
                       "grad_keys": grad_keys})


def main():
    torch.set_num_threads(1)
    wr = gg.Writer(OUT)
    for training in (True, False):
        sfx = "train" if training else "eval"
        case(wr, "vgg_" + sfx, VGGM, lambda m: [m.encoder[4], m.encoder[11], m.encoder[24]],
             ["encoder.0.weight", "encoder.1.weight", "encoder.24.bias", "encoder.30.bias"], training)
        case(wr, "resnet18_" + sfx, ResNet18Cifar, lambda m: [m.layer1, m.layer2, m.layer3],
             ["conv1.weight", "bn1.weight", "layer2.0.downsample.0.weight", "layer4.1.bn2.bias"], training)
    n = wr.write()
    print("wrote %s (%d bytes)" % (OUT, n))


if __name__ == "__main__":
    main()
