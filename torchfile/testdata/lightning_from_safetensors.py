#!/usr/bin/env python3
"""Wraps the model of a vmdls checkpoint in a PyTorch Lightning 1.1-style
.ckpt, as the reference's training writes it, for the end-to-end check that
`vmdls test --checkpoint_path X.ckpt` scores exactly as the safetensors
checkpoint it came from:

    /usr/bin/python3 torchfile/testdata/lightning_from_safetensors.py last.safetensors X.ckpt [--legacy] [--dataparallel]

The .ckpt holds the model's state_dict (encoder.*, fc_mu.*, fc_var.*) plus
an "ae." autoencoder the reference keeps in its module, Adam's
optimizer_states for every parameter, a StepLR state, the callbacks keyed
by the ModelCheckpoint class, epoch, global_step, hparams_name and the
hyper_parameters AttributeDict (enc_type, latent_dim, class_num from the
vmdls checkpoint's metadata). --legacy writes the pre-1.6 format,
--dataparallel prefixes the keys with "module.". Lightning's classes are
stand-ins under their module paths (see gen_fixtures.py).
"""

import argparse
import collections
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import lightning_stand_ins  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = collections.OrderedDict()
    for name, e in header.items():
        b, end = e["data_offsets"]
        dt = {"F32": np.float32, "F64": np.float64, "I64": np.int64}[e["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype=dt).reshape(e["shape"]).copy())
    return out, meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--legacy", action="store_true")
    ap.add_argument("--dataparallel", action="store_true")
    a = ap.parse_args()
    lightning_stand_ins()
    from pytorch_lightning.callbacks.model_checkpoint import ModelCheckpoint
    from pytorch_lightning.utilities.parsing import AttributeDict

    tensors, meta = read_safetensors(a.src)
    state = json.loads(meta.get("vmdls_state", "{}"))
    sd = collections.OrderedDict()
    prefix = "module." if a.dataparallel else ""
    params = []
    for k, v in tensors.items():
        if k.startswith("optimizer.") or k.startswith("extra."):
            continue
        sd[prefix + k] = v
        if v.is_floating_point() and "running_" not in k:
            params.append(v)
    torch.manual_seed(0)
    ae = torch.nn.Linear(8, 8)
    for k, v in ae.state_dict().items():
        sd[prefix + "ae." + k] = v
    opt_state = {i: {"step": torch.tensor(10.0), "exp_avg": torch.randn_like(p), "exp_avg_sq": torch.rand_like(p)} for i, p in enumerate(params)}
    ck = {
        "epoch": int(state.get("epoch", 1)),
        "global_step": 1000,
        "pytorch-lightning_version": "1.1.2",
        "callbacks": {ModelCheckpoint: {"monitor": "val_f1", "best_model_score": torch.tensor(0.5), "best_model_path": "/runs/best.ckpt"}},
        "optimizer_states": [{"state": opt_state, "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False, "params": list(range(len(params)))}]}],
        "lr_schedulers": [{"step_size": 100, "gamma": 0.1, "base_lrs": [1e-4], "last_epoch": 1, "_step_count": 2, "verbose": False, "_get_lr_called_within_step": False, "_last_lr": [1e-4]}],
        "state_dict": sd,
        "hparams_name": "kwargs",
        "hyper_parameters": AttributeDict(
            input_height=28, enc_type=state.get("enc_type", "mnist-conv"), enc_out_dim=500,
            latent_dim=state.get("latent_dim", 32), class_num=state.get("class_num", 10),
            lr=1e-4, known_dataset="mnist", opt="adam", weights=None, finetune=False),
    }
    kw = {"_use_new_zipfile_serialization": False} if a.legacy else {}
    torch.save(ck, a.dst, **kw)
    print(f"wrote {a.dst}: {len(sd)} state_dict keys, {len(params)} parameters with Adam state")


if __name__ == "__main__":
    main()
