#!/usr/bin/python3
"""Writes nn/testdata/trainsteps.safetensors: a small conv net trained by
PyTorch for 5 steps of SGD (Nesterov momentum, weight decay) and, from the
same initial weights, 5 steps of Adam, for nn/trainstep_golden_test.go to
replay with our layers and optimizers.

Run by hand with PyTorch 1.13 (Debian's python3-torch), from anywhere:
    /usr/bin/python3 nn/testdata/gen_trainsteps.py
Tests never run it; they read the committed file.

The net (torch.nn.Sequential, so keys are "0.weight", "1.running_mean", ...):
    0 Conv2d(1, 4, 3, padding 1, no bias)   1 BatchNorm2d(4)   2 ReLU
    3 Conv2d(4, 6, 3, stride 2, no bias)    4 BatchNorm2d(6)   5 ReLU
    6 MaxPool2d(2)   7 Flatten   8 Linear(24, 3)
on x [5, 1, 9, 11] (non-square), MSE loss against a fixed target [5, 3].
The convolutions have no bias because a bias followed by batch norm gets a
gradient that is zero up to rounding, and Adam turns such noise into full
±lr steps: neither PyTorch nor we could reproduce those entries.

Layout (safetensors, every tensor F32; num_batches_tracked as F32 too):
  x, target                  the batch (the same at every step)
  init.<key>                 the initial state_dict
  <opt>.step<k>.loss         the loss of step k (0..4), computed before update k
  <opt>.final.<key>          the state_dict after the 5 steps (<opt>: sgd, adam)
  __metadata__["<opt>"]      JSON: hyperparameters, steps, and "f64_relerr":
                             the worst per-tensor normwise distance between this
                             float32 run and the same run in float64 (how far
                             PyTorch itself is from exact)
"""
import copy
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "convert"))
from torch_safetensors import save_safetensors  # noqa: E402

STEPS = 5
OPTS = {
    "sgd": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    "adam": ("Adam", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)),
}


def build():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, 1, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 6, 3, 2, 0, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 2 * 2, 3))


torch.manual_seed(7)
net0 = build()
gen = torch.Generator().manual_seed(11)
x = torch.randn(5, 1, 9, 11, generator=gen)
target = torch.randn(5, 3, generator=gen)
init = {k: v.detach().clone() for k, v in net0.state_dict().items()}


def train(kind, opts, dtype):
    net = copy.deepcopy(net0).to(dtype)
    net.train()
    ctor = torch.optim.SGD if kind == "SGD" else torch.optim.Adam
    opt = ctor(net.parameters(), foreach=False, **opts)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(net(x.to(dtype)), target.to(dtype))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return net.state_dict(), losses


def relerr(a, b):
    a, b = a.double(), b.double()
    m = b.abs().max().item()
    e = (a - b).abs().max().item()
    return e / m if m > 0 else e


out = {"x": x, "target": target}
for k, v in init.items():
    out[f"init.{k}"] = v.float()
meta = {"generator": "nn/testdata/gen_trainsteps.py", "torch_version": torch.__version__}
for name, (kind, opts) in OPTS.items():
    sd32, losses = train(kind, opts, torch.float32)
    sd64, _ = train(kind, opts, torch.float64)
    for k, v in sd32.items():
        out[f"{name}.final.{k}"] = v.float()
    for i, l in enumerate(losses):
        out[f"{name}.step{i}.loss"] = torch.tensor(l, dtype=torch.float32)
    worst = max(relerr(sd32[k], sd64[k]) for k in sd32 if not k.endswith("num_batches_tracked"))
    meta[name] = json.dumps({"optimizer": kind, "options": opts, "steps": STEPS, "f64_relerr": worst})
    print(name, "losses", losses, "float32 vs float64 worst normwise", worst)

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trainsteps.safetensors")
save_safetensors(path, out, meta)
print("wrote", path, len(out), "tensors")
