#!/usr/bin/env python3
"""Writes the PyTorch checkpoints that torchfile's tests read, and the
values torchfile must return for them.

Run with Debian's PyTorch 1.13 (python3-torch), from the repository root:

    /usr/bin/python3 torchfile/testdata/gen_fixtures.py

It writes into torchfile/testdata/:

  plain_zip.pt, plain_legacy.pt   one state_dict in both formats: float32,
                                  float16 (with a subnormal, an infinity and a
                                  NaN), bfloat16, float64, int64, int32, int16,
                                  int8, uint8 and bool tensors; a Parameter; a
                                  transposed (non-contiguous) tensor; views at a
                                  storage offset; two tensors sharing one
                                  storage; a tied weight (the same tensor under
                                  two keys); an expanded (stride 0) tensor; an
                                  empty and a 0-dim tensor; a non-tensor entry
  proto4.pt                       a small state_dict pickled with protocol 4
                                  (FRAME, MEMOIZE, SHORT_BINUNICODE, ...)
  lightning.ckpt                  a PyTorch Lightning 1.1-style checkpoint of a
                                  small VMDLS-shaped model (encoder., fc_mu.,
                                  fc_var., ae. keys): epoch, global_step,
                                  pytorch-lightning_version, callbacks keyed by
                                  the ModelCheckpoint class, optimizer_states
                                  (Adam), lr_schedulers (StepLR), hparams_name
                                  and hyper_parameters (an AttributeDict)
  namespace_legacy.ckpt           an older Lightning layout in the legacy
                                  format: hparams as an argparse.Namespace
  snapshot.pth.tar                an ODIN/Mahalanobis-era training snapshot in
                                  the legacy format: {'epoch', 'arch',
                                  'state_dict' (keys prefixed "module." by
                                  DataParallel), 'best_prec1', 'optimizer'}
  mnistconv_lightning.ckpt.gz     a Lightning-style checkpoint (zip format,
                                  gzipped for the repository) of a whole
                                  mnist-conv VMDLS model, latent_dim 32: keys
                                  encoder.*, fc_mu.*, fc_var.* as vmdls names
                                  them, plus ae.*, Adam optimizer_states and
                                  hyper_parameters. Its weights follow
                                  mnistconv_weight() below, which the Go test
                                  recomputes exactly to build the safetensors
                                  twin that `vmdls test` must score identically
  mnistconv_encoder.pth.tar.gz    the encoder of that model alone, as a
                                  --weights fine-tuning file of the
                                  ODIN/Mahalanobis era (legacy format, keys
                                  prefixed "module." by DataParallel, epoch,
                                  arch, best_prec1), the same weights
  mnistae_lightning.ckpt.gz       a Lightning-style checkpoint (zip format) of
                                  the reference's MNIST autoencoder (MNIST_AE,
                                  nn/backbone's MnistAE) for --ae_path: keys
                                  encoder.*, decoder.*, fc.*, its
                                  hyper_parameters, weights by the same formula
                                  over its own state_dict
  golden.safetensors              what torchfile returns for each file, under
                                  "<file>/<key>": floating-point tensors as
                                  float32, integer and bool ones as int64,
                                  contiguous (written by this script, not by
                                  the safetensors package)

The legacy format names its storages by memory address, so a rerun changes
the bytes of the legacy-format files (not their values: golden.safetensors
comes out the same); the zip-format files come out byte for byte the same.

Lightning is not installed, so its classes are stand-ins defined under their
real module paths: a pickle names a class only by module and name, so the
files are byte for byte what Lightning's classes would give.
"""

import argparse
import collections
import gzip
import io
import json
import os
import struct
import sys
import tempfile

import torch

OUT = os.path.dirname(os.path.abspath(__file__))


def lightning_stand_ins():
    """Makes pytorch_lightning.utilities.parsing.AttributeDict and
    pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint importable."""
    root = tempfile.mkdtemp()
    files = {
        "pytorch_lightning/__init__.py": "",
        "pytorch_lightning/utilities/__init__.py": "",
        "pytorch_lightning/utilities/parsing.py": (
            "class AttributeDict(dict):\n"
            "    def __getattr__(self, key):\n"
            "        try:\n"
            "            return self[key]\n"
            "        except KeyError as e:\n"
            "            raise AttributeError(key) from e\n"
            "    def __setattr__(self, key, val):\n"
            "        self[key] = val\n"),
        "pytorch_lightning/callbacks/__init__.py": "",
        "pytorch_lightning/callbacks/model_checkpoint.py": "class ModelCheckpoint:\n    pass\n",
    }
    for name, text in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    sys.path.insert(0, root)


def plain_state_dict():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    model.train()
    model(torch.randn(5, 4))  # running stats and num_batches_tracked move
    sd = model.state_dict()  # an OrderedDict with _metadata
    sd["param"] = torch.nn.Parameter(torch.randn(2, 3))
    sd["half"] = torch.tensor([1.5, -2.0, 6e-8, 65504.0, float("inf"), float("nan"), -0.0], dtype=torch.float16)
    sd["bf16"] = torch.tensor([1.0, -3.140625, 1e30, 1e-30], dtype=torch.bfloat16)
    sd["f64"] = torch.tensor([[0.1, 1.0 / 3.0], [1e300, -2.5]], dtype=torch.float64)
    sd["i32"] = torch.tensor([-7, 2**31 - 1], dtype=torch.int32)
    sd["i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    sd["flags"] = torch.tensor([True, False, True])
    sd["long"] = torch.tensor([-(2**62), 2**40])
    base = torch.arange(20, dtype=torch.float32).reshape(4, 5)
    sd["transposed"] = base.t()  # shape (5, 4), stride (1, 5)
    sd["window"] = base[1:, 2:]  # offset 7, stride (5, 1)
    sd["shared.row"] = base[2]  # the same storage as the two above
    sd["tied"] = sd["0.weight"]  # the same tensor under a second key
    sd["expanded"] = torch.tensor([2.5]).expand(4)  # stride (0,)
    sd["empty"] = torch.zeros(0, 3)
    sd["scalar"] = torch.tensor(42.0)
    sd["_extra_state"] = "not a tensor"
    return sd


def small_vmdls_model():
    torch.manual_seed(1)
    m = torch.nn.Module()
    m.encoder = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8, 6))
    m.fc_mu = torch.nn.Linear(6, 4)
    m.fc_var = torch.nn.Linear(6, 4)
    m.ae = torch.nn.Linear(3, 3)  # the reference's frozen autoencoder
    return m


def lightning_checkpoint():
    from pytorch_lightning.callbacks.model_checkpoint import ModelCheckpoint
    from pytorch_lightning.utilities.parsing import AttributeDict

    m = small_vmdls_model()
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    x = torch.randn(2, 1, 4, 4)
    loss = (m.fc_mu(m.encoder(x)) ** 2).sum() + m.ae(torch.randn(1, 3)).sum()
    loss.backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.1)
    hp = AttributeDict(
        input_height=28, enc_type="mnist-conv", first_conv=False, maxpool1=False, enc_out_dim=6,
        kl_coeff=0.1, latent_dim=4, lr=1e-4, class_num=10, generation_epoch=50, lower_bound=0.05,
        step_size=100, step_gamma=0.1, cov_scaling=5.0, recon_weight=0.1, gen_weight=5.0,
        log_tsne=False, weights=None, finetune=False, finetune_lr=0.001, known_dataset="mnist",
        opt="adam", ae_features=False, margin_max_distance=32.0, sample_count=40,
        gpus="1", max_epochs=3, max_steps=None, precision=32)
    return {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "1.1.2",
        "callbacks": {ModelCheckpoint: {
            "monitor": "val_f1", "best_model_score": torch.tensor(0.875),
            "best_model_path": "/runs/epoch=3.ckpt"}},
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [sched.state_dict()],
        "state_dict": m.state_dict(),
        "hparams_name": "kwargs",
        "hyper_parameters": hp,
    }


def namespace_checkpoint():
    torch.manual_seed(2)
    lin = torch.nn.Linear(2, 2)
    return {
        "epoch": 7,
        "global_step": 70,
        "state_dict": collections.OrderedDict((k, v) for k, v in lin.state_dict().items()),
        "hparams": argparse.Namespace(enc_type="vgg", latent_dim=128, class_num=10, lr=0.1, tags={"mnist"}),
    }


def snapshot():
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1), torch.nn.BatchNorm2d(2))
    dp = torch.nn.DataParallel(net)  # keys gain "module."
    opt = torch.optim.SGD(dp.parameters(), lr=0.1, momentum=0.9)
    dp(torch.randn(2, 3, 2, 2)).sum().backward()
    opt.step()
    return {"epoch": 90, "arch": "densenet", "state_dict": dp.state_dict(), "best_prec1": 95.125, "optimizer": opt.state_dict()}


# The state_dict of vmdls's mnist-conv model (nn/backbone) with latent_dim 32,
# in its order.
MNISTCONV_SHAPES = [
    ("encoder.encoder.0.weight", (100, 1, 3, 3)), ("encoder.encoder.0.bias", (100,)),
    ("encoder.encoder.2.weight", (100, 100, 3, 3)), ("encoder.encoder.2.bias", (100,)),
    ("encoder.encoder.5.weight", (100, 100, 3, 3)), ("encoder.encoder.5.bias", (100,)),
    ("encoder.encoder.7.weight", (100, 100, 3, 3)), ("encoder.encoder.7.bias", (100,)),
    ("encoder.encoder.10.weight", (100, 100, 3, 3)), ("encoder.encoder.10.bias", (100,)),
    ("encoder.dec_layer.weight", (500, 900)), ("encoder.dec_layer.bias", (500,)),
    ("fc_mu.weight", (32, 500)), ("fc_mu.bias", (32,)),
    ("fc_var.weight", (32, 500)), ("fc_var.bias", (32,)),
]


def mnistconv_weight(j, shape):
    """Tensor j's weights: integers of a quadratic sequence modulo the prime
    1021, centred, times 2^-15. Integer arithmetic and a power-of-two scale
    are exact in any language, so Go gets the same bits, and the period
    keeps the gzipped file small while no two rows of a layer are equal."""
    n = 1
    for d in shape:
        n *= d
    i = torch.arange(n, dtype=torch.int64) + 1000 * j
    return (((7 * i * i + 13 * i) % 1021) - 510).float().mul(2.0 ** -15).reshape(shape)


def mnistconv_lightning():
    from pytorch_lightning.callbacks.model_checkpoint import ModelCheckpoint
    from pytorch_lightning.utilities.parsing import AttributeDict

    sd = collections.OrderedDict()
    for j, (k, shape) in enumerate(MNISTCONV_SHAPES):
        sd[k] = mnistconv_weight(j, shape)
    params = list(sd.values())[-4:]  # Adam's state of the heads: enough to be read past
    sd["ae.weight"] = torch.zeros(8, 8)
    sd["ae.bias"] = torch.zeros(8)
    state = {i: {"step": torch.tensor(10.0), "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)} for i, p in enumerate(params)}
    return {
        "epoch": 19,
        "global_step": 4800,
        "pytorch-lightning_version": "1.1.2",
        "callbacks": {ModelCheckpoint: {"monitor": "val_f1", "best_model_score": torch.tensor(0.5), "best_model_path": "/runs/best.ckpt"}},
        "optimizer_states": [{"state": state, "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False, "params": list(range(len(params)))}]}],
        "lr_schedulers": [{"step_size": 100, "gamma": 0.1, "base_lrs": [1e-4], "last_epoch": 19, "_step_count": 20, "verbose": False, "_get_lr_called_within_step": False, "_last_lr": [1e-4]}],
        "state_dict": sd,
        "hparams_name": "kwargs",
        "hyper_parameters": AttributeDict(input_height=28, enc_type="mnist-conv", enc_out_dim=500, latent_dim=32, class_num=10,
                                          lr=1e-4, known_dataset="mnist", opt="adam", weights=None, finetune=False),
    }


def mnistconv_snapshot():
    """The encoder part of mnistconv_lightning()'s model as the reference's
    --weights file: {'epoch', 'arch', 'state_dict', 'best_prec1'}, the keys
    the encoder's own with DataParallel's "module." before them."""
    sd = collections.OrderedDict()
    for j, (k, shape) in enumerate(MNISTCONV_SHAPES):
        if k.startswith("encoder."):
            sd["module." + k[len("encoder."):]] = mnistconv_weight(j, shape)
    return {"epoch": 100, "arch": "mnist-conv", "state_dict": sd, "best_prec1": 99.25}


# The state_dict of the reference's MNIST autoencoder, MNIST_AE(input_height=28,
# enc_type="mnist") (nn/backbone's MnistAE), in its order.
MNISTAE_SHAPES = MNISTCONV_SHAPES[:12] + [
    ("decoder.latent.weight", (500, 32)), ("decoder.latent.bias", (500,)),
    ("decoder.enc_layer.weight", (900, 500)), ("decoder.enc_layer.bias", (900,)),
] + [(f"decoder.decoder.{i}.{w}", (100, 100, 2, 2) if w == "weight" else (100,)) for i in (0, 2, 4, 6, 8, 10) for w in ("weight", "bias")] + [
    ("decoder.decoder.12.weight", (1, 100, 1, 1)), ("decoder.decoder.12.bias", (1,)),
    ("fc.weight", (32, 500)), ("fc.bias", (32,)),
]


def mnistae_lightning():
    """The reference's ae_mnist.ckpt in layout: a Lightning checkpoint of
    MNIST_AE, tensor j of its state_dict filled by mnistconv_weight(j, ...)."""
    from pytorch_lightning.utilities.parsing import AttributeDict

    sd = collections.OrderedDict((k, mnistconv_weight(j, shape)) for j, (k, shape) in enumerate(MNISTAE_SHAPES))
    return {
        "epoch": 49,
        "global_step": 11750,
        "pytorch-lightning_version": "1.1.2",
        "state_dict": sd,
        "hparams_name": "kwargs",
        "hyper_parameters": AttributeDict(input_height=28, enc_type="mnist", first_conv=False, maxpool1=False,
                                          enc_out_dim=500, kl_coeff=0.1, latent_dim=32, lr=1e-4),
    }


def write_gz(name, obj, **kw):
    """torch.save(obj) gzipped (mtime 0) into OUT/name, after checking that
    PyTorch loads it back."""
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    buf.seek(0)
    torch.load(buf)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(gzip.compress(buf.getvalue(), 9, mtime=0))


def expected_tensors(sd, strip=""):
    """What torchfile returns: float32 or int64, contiguous, in order."""
    out = collections.OrderedDict()
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        if strip and k.startswith(strip):
            k = k[len(strip):]
        v = v.detach()
        v = v.float() if v.is_floating_point() else v.long()
        out[k] = v.contiguous()
    return out


def write_safetensors(path, tensors):
    """A minimal safetensors writer (F32 and I64 only), so that the golden
    does not depend on the Go package it checks."""
    header, blobs, pos = {}, [], 0
    for name, t in tensors.items():
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        b = t.numpy().astype("<f4" if dtype == "F32" else "<i8").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [pos, pos + len(b)]}
        blobs.append(b)
        pos += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    lightning_stand_ins()
    golden = collections.OrderedDict()

    def save(name, obj, sd, strip="", **kw):
        torch.save(obj, os.path.join(OUT, name), **kw)
        # The file must load back in PyTorch.
        torch.load(os.path.join(OUT, name))
        for k, v in expected_tensors(sd, strip).items():
            golden[name + "/" + k] = v

    sd = plain_state_dict()
    save("plain_zip.pt", sd, sd)
    save("plain_legacy.pt", sd, sd, _use_new_zipfile_serialization=False)
    small = collections.OrderedDict([("w", torch.arange(6, dtype=torch.float32).reshape(2, 3)), ("n", torch.tensor(5))])
    save("proto4.pt", small, small, pickle_protocol=4)
    ck = lightning_checkpoint()
    save("lightning.ckpt", ck, ck["state_dict"])
    ns = namespace_checkpoint()
    save("namespace_legacy.ckpt", ns, ns["state_dict"], _use_new_zipfile_serialization=False)
    snap = snapshot()
    save("snapshot.pth.tar", snap, snap["state_dict"], strip="module.", _use_new_zipfile_serialization=False)
    write_safetensors(os.path.join(OUT, "golden.safetensors"), golden)
    # The end-to-end fixture is gzipped (mtime 0, so it is reproducible);
    # its values are checked against mnistconv_weight's formula, in Go.
    write_gz("mnistconv_lightning.ckpt.gz", mnistconv_lightning())
    write_gz("mnistconv_encoder.pth.tar.gz", mnistconv_snapshot(), _use_new_zipfile_serialization=False)
    write_gz("mnistae_lightning.ckpt.gz", mnistae_lightning())
    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(os.path.join(OUT, name)):8d} {name}")


if __name__ == "__main__":
    main()
