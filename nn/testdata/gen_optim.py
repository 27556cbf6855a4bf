#!/usr/bin/python3
"""Writes nn/testdata/optim.safetensors: PyTorch's SGD, Adam and StepLR on
fixed parameters and a fixed sequence of gradients, for the Go tests in
nn/optim_test.go to replay and compare.

Run by hand with PyTorch 1.13 (Debian's python3-torch):
    /usr/bin/python3 nn/testdata/gen_optim.py
Tests never run it; they read the committed file.

Layout (safetensors, all F32 except steplr.lrs, F64):
  <case>.p<i>.init          initial value of parameter i
  <case>.s<k>.g<i>          gradient of parameter i given before step k
                            (absent: the parameter has no gradient at step k)
  <case>.s<k>.p<i>          parameter i after step k
  <case>.state.<i>.<name>   optimizer.state_dict()['state'][i][name] at the end
  __metadata__[<case>]      JSON: optimizer type, groups (hyperparameters
                            under PyTorch's names plus parameter indices),
                            number of steps, shapes
  steplr.lrs                [epochs+1, groups] learning rates of a StepLR run
                            (row 0 before any scheduler step)
  __metadata__["steplr"]    JSON: step_size, gamma, base lrs, epochs
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "convert"))
from torch_safetensors import save_safetensors  # noqa: E402

torch.manual_seed(0)
SHAPES = [(7, 5), (13,), (3, 4, 2)]
STEPS = 10
gen = torch.Generator().manual_seed(1234)


def randn(shape, scale=1.0):
    return torch.randn(shape, generator=gen, dtype=torch.float32) * scale


out = {}
meta = {}


def run(name, kind, groups, skip=()):
    """groups: list of (param indices, options dict). skip: (step, param)
    pairs whose gradient is None at that step."""
    init = [randn(s) for s in SHAPES]
    params = [torch.nn.Parameter(t.clone()) for t in init]
    pg = [dict(params=[params[i] for i in idx], **opts) for idx, opts in groups]
    if kind == "SGD":
        opt = torch.optim.SGD(pg, lr=groups[0][1]["lr"], foreach=False)
    else:
        opt = torch.optim.Adam(pg, lr=groups[0][1]["lr"], foreach=False)
    for i, t in enumerate(init):
        out[f"{name}.p{i}.init"] = t
    for k in range(STEPS):
        opt.zero_grad(set_to_none=True)
        for i, p in enumerate(params):
            if (k, i) in skip:
                continue
            # Gradients of several magnitudes, including very small ones
            # where Adam's eps matters.
            scale = [1.0, 0.01, 1e-6, 3.0][(k + i) % 4]
            g = randn(p.shape, scale)
            p.grad = g.clone()
            out[f"{name}.s{k}.g{i}"] = g
        opt.step()
        for i, p in enumerate(params):
            out[f"{name}.s{k}.p{i}"] = p.detach().clone()
    sd = opt.state_dict()
    for i, st in sd["state"].items():
        for key, v in st.items():
            if v is None:
                continue
            out[f"{name}.state.{i}.{key}"] = v.detach().clone().float().reshape(v.shape)
    meta[name] = json.dumps({
        "optimizer": kind,
        "groups": [dict(params=list(idx), **opts) for idx, opts in groups],
        "steps": STEPS,
        "shapes": [list(s) for s in SHAPES],
    })


run("sgd_plain", "SGD", [([0, 1, 2], dict(lr=0.1))])
run("sgd_momentum", "SGD", [([0, 1, 2], dict(lr=0.05, momentum=0.9))])
run("sgd_nesterov_wd", "SGD", [([0, 1, 2], dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2))])
run("sgd_dampening", "SGD", [([0, 1, 2], dict(lr=0.03, momentum=0.8, dampening=0.3, weight_decay=0.05))])
run("sgd_groups", "SGD",
    [([0, 1], dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)),
     ([2], dict(lr=0.01, momentum=0.5))],
    skip={(0, 2), (3, 1), (4, 1), (7, 0)})
run("adam_default", "Adam", [([0, 1, 2], dict(lr=1e-3))])
run("adam_wd", "Adam", [([0, 1, 2], dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1))])
run("adam_amsgrad", "Adam", [([0, 1, 2], dict(lr=0.005, amsgrad=True, weight_decay=1e-3))])
run("adam_groups", "Adam",
    [([0], dict(lr=0.02, betas=(0.5, 0.9))),
     ([1, 2], dict(lr=1e-3, weight_decay=1e-2, amsgrad=True))],
    skip={(0, 0), (2, 2), (5, 1)})

# StepLR: two groups, chained decay, as the trainer uses it (step per epoch).
p1 = torch.nn.Parameter(torch.zeros(1))
p2 = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([dict(params=[p1], lr=0.1), dict(params=[p2], lr=0.05)], lr=0.1, momentum=0.9)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)
EPOCHS = 25
lrs = [[g["lr"] for g in opt.param_groups]]
for e in range(EPOCHS):
    opt.step()
    sched.step()
    lrs.append([g["lr"] for g in opt.param_groups])
out["steplr.lrs"] = torch.tensor(lrs, dtype=torch.float64)
meta["steplr"] = json.dumps({"step_size": 3, "gamma": 0.1, "base_lrs": [0.1, 0.05], "epochs": EPOCHS,
                             "state_dict": {k: v for k, v in sched.state_dict().items()}})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim.safetensors")
save_safetensors(path, out, meta)
print("wrote", path, len(out), "tensors")
