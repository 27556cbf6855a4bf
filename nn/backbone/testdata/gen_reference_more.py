#!/usr/bin/python3
"""Generate reference_more.safetensors: the encoders main.py offers beyond the published five,
and the CIFAR-100 autoencoder, built from the authors' and PyTorch-Lightning-Bolts' own code.

Like gen_reference_golden.py (whose helpers it imports), nothing of that code is copied: the
modules are imported from checkouts, pinned by SHA-256. Run by hand from the repository root
with Debian's torch 1.13:

    git clone https://github.com/BGU-CS-VIL/vmdls /tmp/vmdls-ref        # at 5add9e2
    git clone https://github.com/PyTorchLightning/lightning-bolts /tmp/bolts-ref   # at e1f9c9c (0.3.0)
    /usr/bin/python3 nn/backbone/testdata/gen_reference_more.py /tmp/vmdls-ref /tmp/bolts-ref

What is built:
  resnet50  resnet50_encoder(False, False)   the authors' models/resnet_encoders.py (Bolts'
                                             components.py plus get_layer_output), as
                                             GMM_VAE_Contrastive builds it for --enc_type resnet50
  mnist     MnistEncoder()                   models/decoders_encoders.py (--enc_type mnist)
  cifar     CifarConvEncoder()               models/decoders_encoders.py (--enc_type cifar)
            each inside GMM_VAE_Contrastive's children encoder, fc_mu, fc_var (latent 32), as in
            gen_reference_golden.py, so the keys are the checkpoint's.
  ae_resnet50  pl_bolts.models.autoencoders.AE(input_height=32, enc_type="resnet50",
            enc_out_dim=2048): Bolts 0.3.0's basic_ae_module.py and components.py themselves
            (the authors' models/vae.py builds ae_dict["cifar100_known"] so; models/
            train_resnet_ae.py trains it). pl_bolts is not installed: the package and
            pytorch_lightning are stubbed (LightningModule is an nn.Module with a no-op
            save_hyperparameters; pl_bolts holds only _HTTPS_AWS_HUB), and the two files are
            loaded from the Bolts checkout.

Weights are gen_reference_golden.py's fill (fill_values of gen_backbones_dw.py keyed by the
full checkpoint key), which the Go test regenerates. Everything runs in float64 on exact
upcasts of the float32 values.

Cases (tensor names <case>.<what>):
  <enc>          metadata op "reference_state_dict" (keys, params, enc_out_dim, latent_dim,
                 call, taps); eval mode: .x [2, ...], .h, .tap0-.tap2 (resnet50 only: the
                 others have no get_layer_output), .mu, .logvar
  <enc>_train    train mode, the same weights and x: .w, loss = (h * w).sum();
                 .grad0 = d loss / d x, .grad.<key> for meta grad_keys; for resnet50, whose
                 batch norms spread a ReLU decision made on the other side of zero over a
                 channel, the kink log .kinks, .kink_counts (kinks.py)
  ae_resnet50    metadata as above; eval: .x, .code = fc(encoder(x)), .xhat = decoder(code)
  ae_resnet50_grad   eval mode (see ae_cases): .loss = mse_loss(xhat, x) [1], .grad0 = d loss /
                 d x (through the net and the target), .grad.<key> for meta grad_keys, the
                 kink log
"""

import hashlib
import importlib.util
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "internal", "golden", "testdata"))
sys.path.insert(0, HERE)
import gen_golden as gg  # noqa: E402
import gen_reference_golden as grg  # noqa: E402
from gen_backbones_dw import fill_values  # noqa: E402
from kinks import KINK_REL, KINKS, ReLU  # noqa: E402

F64 = torch.float64
OUT = os.path.join(HERE, "reference_more.safetensors")

BOLTS_REPO = "PyTorchLightning/lightning-bolts"
BOLTS_COMMIT = "e1f9c9c8c59524673bfe8b5905b96c8724329e4c"
BOLTS_FILES = {
    "pl_bolts/models/autoencoders/components.py": "a828727df3079c00137fccb6b8c239dc69e1a28cafbdab0c0c7524f7bed7fc09",
    "pl_bolts/models/autoencoders/basic_ae/basic_ae_module.py": "76aee2c158633bdc5897e6e2e1c0ec786bb43cc41feef7c6066eb2c8d25cb6e4",
}

GRAD_KEYS = {
    "resnet50": ["encoder.conv1.weight", "encoder.layer1.0.downsample.1.bias", "encoder.layer4.2.bn3.weight"],
    "mnist": ["encoder.encoder.0.bias", "encoder.encoder.2.weight"],
    "cifar": ["encoder.encoder.0.weight", "encoder.encoder.10.bias", "encoder.dec_layer.bias"],
}
AE_GRAD_KEYS = ["encoder.conv1.weight", "encoder.layer4.2.bn3.weight", "fc.bias",
                "decoder.layer1.0.upsample.1.weight", "decoder.layer4.0.bn1.weight", "decoder.conv1.weight"]


def load_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def import_bolts(bolts):
    for rel, want in BOLTS_FILES.items():
        with open(os.path.join(bolts, rel), "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != want:
            sys.exit("%s: sha256 %s, want %s (%s at %s)" % (rel, got, want, BOLTS_REPO, BOLTS_COMMIT[:7]))
    # grg.import_reference stubbed pl_bolts and put the authors' copy of components.py
    # under its name; the AE gets Bolts' own.
    sys.modules["pl_bolts"]._HTTPS_AWS_HUB = "https://pl-bolts-weights.s3.us-east-2.amazonaws.com"
    comp = load_file("pl_bolts.models.autoencoders.components", os.path.join(bolts, "pl_bolts/models/autoencoders/components.py"))
    ae = load_file("pl_bolts.models.autoencoders.basic_ae.basic_ae_module",
                   os.path.join(bolts, "pl_bolts/models/autoencoders/basic_ae/basic_ae_module.py"))
    return comp, ae


def record(wr, name, model, meta):
    """gen_reference_golden.record's metadata, naming this generator."""
    sd = model.state_dict()
    keys = [[k, list(v.shape), "I64" if v.dtype == torch.int64 else "F32"] for k, v in sd.items()]
    meta = dict(meta, op="reference_state_dict", family="backbone", ref="float64",
                generator="nn/backbone/testdata/gen_reference_more.py", ref_repo=grg.REF_REPO,
                ref_commit=grg.REF_COMMIT, keys=keys, params=sum(p.numel() for p in model.parameters()))
    wr.add_case(name, meta)
    print("%s: %d state_dict entries, %d parameters" % (name, len(keys), meta["params"]))


def log_relus(model):
    """Route every nn.ReLU of model through the kink log (stateless: the keys stay)."""
    for mod in list(model.modules()):
        for name, child in list(mod.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(mod, name, ReLU())


def encoder_cases(wr, name, enc, enc_out_dim, call, in_shape, taps):
    net = grg.VMDLSNet(enc, enc_out_dim)
    record(wr, name, net, {"enc_out_dim": enc_out_dim, "latent_dim": grg.LATENT, "call": call, "taps": taps})
    grg.fill(net)
    log_relus(net)
    net = net.double()
    x = fill_values(name + "/x", 2 * math.prod(in_shape), -2.0, 2.0).reshape(2, *in_shape)
    wr.add(name + ".x", x)
    net.eval()
    with torch.no_grad():
        x64 = x.to(F64)
        h = net.encoder(x64)
        wr.add(name + ".h", h)
        if taps:
            for i in (1, 2, 3):
                wr.add("%s.tap%d" % (name, i - 1), torch.flatten(net.encoder.get_layer_output(x64, i), 1))
        wr.add(name + ".mu", net.fc_mu(h))
        wr.add(name + ".logvar", net.fc_var(h))
    print("  eval: h %s" % list(h.shape))

    tname = name + "_train"
    net.train()
    x64 = x.to(F64).requires_grad_(True)
    KINKS.on = taps  # resnet50: the one with batch norms
    h = net.encoder(x64)
    KINKS.on = False
    w = fill_values(tname + "/w", h.numel(), -1.0, 1.0).reshape(h.shape)
    loss = (h * w.to(F64)).sum()
    params = dict(net.named_parameters())
    keys = GRAD_KEYS[name]
    grads = torch.autograd.grad(loss, [x64] + [params[k] for k in keys])
    wr.add(tname + ".w", w)
    wr.add(tname + ".grad0", grads[0])
    for k, g in zip(keys, grads[1:]):
        wr.add("%s.grad.%s" % (tname, k), g)
    meta = {"op": "reference_grad", "training": True, "grad_keys": keys, "ref": "float64"}
    if taps:
        meta["kink_rel"] = KINK_REL
        print("  train: %d near-kink ReLU inputs logged" % KINKS.save(wr, tname))
    else:
        KINKS.take()
    wr.add_case(tname, meta)


def ae_cases(wr, AE):
    name = "ae_resnet50"
    call = 'AE(input_height=32, enc_type="resnet50", enc_out_dim=2048)'
    ae = AE(input_height=32, enc_type="resnet50", enc_out_dim=2048)
    record(wr, name, ae, {"call": call, "bolts_repo": BOLTS_REPO, "bolts_commit": BOLTS_COMMIT})
    grg.fill(ae)
    log_relus(ae)
    ae = ae.double()
    x = fill_values(name + "/x", 2 * 3 * 32 * 32, -2.0, 2.0).reshape(2, 3, 32, 32)
    wr.add(name + ".x", x)
    ae.eval()
    with torch.no_grad():
        code = ae.fc(ae.encoder(x.to(F64)))
        wr.add(name + ".code", code)
        wr.add(name + ".xhat", ae.decoder(code))
    # The gradients in eval mode: in train mode this deep random net is chaotic, PyTorch's
    # own float32 run being 8% (normwise) off its float64 gradient, 6e-4 in eval mode
    # before the kink log. Train-mode batch norm backward is covered by resnet50_train.
    tname = name + "_grad"
    x64 = x.to(F64).requires_grad_(True)
    KINKS.on = True
    xhat = ae(x64)  # Bolts' forward: decoder(fc(encoder(x)))
    KINKS.on = False
    loss = F.mse_loss(xhat, x64, reduction="mean")
    params = dict(ae.named_parameters())
    grads = torch.autograd.grad(loss, [x64] + [params[k] for k in AE_GRAD_KEYS])
    wr.add(tname + ".loss", loss.reshape(1))
    wr.add(tname + ".grad0", grads[0])
    for k, g in zip(AE_GRAD_KEYS, grads[1:]):
        wr.add("%s.grad.%s" % (tname, k), g)
    print("  grad: loss %.6g, %d near-kink ReLU inputs logged" % (loss.item(), KINKS.save(wr, tname)))
    wr.add_case(tname, {"op": "reference_grad", "training": False, "grad_keys": AE_GRAD_KEYS, "ref": "float64",
                        "kink_rel": KINK_REL})


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_reference_more.py VMDLS_CHECKOUT BOLTS_CHECKOUT")
    R = grg.import_reference(sys.argv[1])
    _, bolts_ae = import_bolts(sys.argv[2])
    torch.set_num_threads(2)
    wr = gg.Writer(OUT)
    encoder_cases(wr, "resnet50", R.re.resnet50_encoder(False, False), 2048, "resnet50_encoder(False, False)", (3, 32, 32), True)
    encoder_cases(wr, "mnist", R.de.MnistEncoder(), 64, "MnistEncoder()", (1, 28, 28), False)
    encoder_cases(wr, "cifar", R.de.CifarConvEncoder(), 500, "CifarConvEncoder()", (3, 32, 32), False)
    ae_cases(wr, bolts_ae.AE)
    n = wr.write()
    print("wrote %s (%d bytes)" % (OUT, n))


if __name__ == "__main__":
    main()
