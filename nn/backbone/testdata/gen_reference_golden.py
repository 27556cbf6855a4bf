#!/usr/bin/python3
"""Generate reference.safetensors from the authors' own module code, not from a mirror.

The networks are built with the classes of BGU-CS-VIL/vmdls (the paper's code) at commit
REF_COMMIT below, imported from a checkout of it; nothing of that code is copied here.
Get the checkout and run by hand from the repository root with Debian's torch 1.13 and
torchvision (apt-get install python3-torch python3-torchvision; models/mnist_ae.py imports
torchvision.transforms):

    git clone https://github.com/BGU-CS-VIL/vmdls /tmp/vmdls-ref     # or: git archive 5add9e2 | tar -x
    python3 nn/backbone/testdata/gen_reference_golden.py /tmp/vmdls-ref

(the directory may also come from $VMDLS_REF). The script refuses files whose SHA-256
differs from REF_FILES, so the golden always comes from that commit's code.

What is built (the reference's constructors and arguments, as models/vae.py and
models/mnist_ae.py call them):
  mnist-conv  MnistConvEncoder()                     (models/decoders_encoders.py)
  vgg         VGGM()                                 (models/vgg.py)
  resnet18    resnet18_encoder(False, False)         (models/resnet_encoders.py; vae.py's
                                                      default first_conv, maxpool1)
  densenet    DenseNet3(100, 10)                     (models/densenet.py; class_num 10)
  wresnet     WideResNet(28, 10, 10, 0.0)            (models/wide_resnet.py; dropRate 0: the
                                                      reference's dropout runs with
                                                      training=True even in eval mode)
Each encoder sits in a module with the LightningModule GMM_VAE_Contrastive's children
encoder, fc_mu, fc_var (nn.Linear(enc_out_dim, 32) each, registered in that order), so the
state_dict keys are the checkpoint's: "encoder.conv1.weight", ..., "fc_var.bias".
  ae_mnist    MNIST_AE(input_height=28, enc_type="mnist")            (models/mnist_ae.py)
  ae_resnet   MNIST_AE(input_height=32, enc_type="resnet18", enc_out_dim=512, latent_dim=256):
              the CIFAR autoencoder, pl_bolts' AE(input_height=32). pl_bolts is not installed
              here; mnist_ae.py is the authors' copy of Bolts' AE module (same children
              encoder, decoder, fc, same construction) and models/resnet_encoders.py their
              copy of pl_bolts.models.autoencoders.components (Bolts' code plus
              get_layer_output), so the stubbed components module below is that file.
pytorch_lightning and pl_bolts are stubbed (sys.modules): only LightningModule (an
nn.Module with a no-op save_hyperparameters) and cifar10_normalization are touched.

Weights are not stored (WideResNet-28-10 alone has 36.5M parameters). Every state_dict
tensor except the num_batches_tracked counters (0, as in a fresh module) is filled by
fill_values of gen_backbones_dw.py, keyed by its full checkpoint key, which the Go test
reimplements bit for bit; it rebuilds the state_dict from the recorded keys and shapes,
writes it to a safetensors file and loads it strictly. The models are the full-size ones.

Cases (tensor names <case>.<what>; case names are the encoder types and ae_mnist, ae_resnet):
  metadata  op "reference_state_dict": keys ([key, shape, dtype] in state_dict order),
            params (the parameter count), enc_out_dim, latent_dim, and the reference's
            constructor call.
  encoders  .x (2 images), .h = encoder(x), .tap0 .. .tap2 = flatten(encoder
            .get_layer_output(x, i), 1) for i = 1, 2, 3 (what test_step ensembles),
            .mu = fc_mu(h), .logvar = fc_var(h).
  AEs       .x, .code = fc(encoder(x)), .xhat = decoder(code) (the AE's forward).
Everything runs in eval mode in float64 on exact upcasts of the float32 fills and is
rounded once to float32.
"""

import hashlib
import math
import os
import sys
import types

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "internal", "golden", "testdata"))
import gen_golden as gg  # noqa: E402
sys.path.insert(0, HERE)
from gen_backbones_dw import fill_values  # noqa: E402

F64 = torch.float64
OUT = os.path.join(HERE, "reference.safetensors")

REF_REPO = "BGU-CS-VIL/vmdls"
REF_COMMIT = "5add9e29dc202903f49b31c9435a22faa164855a"
REF_FILES = {
    "models/decoders_encoders.py": "fa59f5588266859922ffb4c2167d2f82f040bc4cb4678469b1d85aa9bd025779",
    "models/vgg.py": "0ae1ab8746a183f87ee52fcc85f1b57571823751161393d46a0684da48e133ea",
    "models/resnet_encoders.py": "9e3c2e60cb21f504b54a4abd7cb4e021635fd0823ca44762275b5a02389f54ec",
    "models/densenet.py": "a605d3b289b299ebf76aec9204cfd231ec1cf504028f52f41a010a43a5b77eae",
    "models/wide_resnet.py": "c31f192db32800d8eb825321e219ba0191915f15d8e6bef7327dacb3cafb8aa7",
    "models/mnist_ae.py": "388a0826f3225c8cab8deb4569df5639ef6b33733569aee874cc0bcfb50bdec4",
}
LATENT = 32


def import_reference(ref):
    for rel, want in REF_FILES.items():
        with open(os.path.join(ref, rel), "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != want:
            sys.exit("%s: sha256 %s, want %s (%s at %s)" % (rel, got, want, REF_REPO, REF_COMMIT[:7]))

    class LightningModule(nn.Module):
        def save_hyperparameters(self, *args, **kwargs):
            pass

    def stub(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    stub("pytorch_lightning", LightningModule=LightningModule)
    stub("pl_bolts"); stub("pl_bolts.models"); stub("pl_bolts.models.autoencoders"); stub("pl_bolts.transforms")
    stub("pl_bolts.transforms.dataset_normalizations", cifar10_normalization=lambda: None)
    sys.path.insert(0, ref)
    import models.resnet_encoders as re
    sys.modules["pl_bolts.models.autoencoders.components"] = re
    import models.decoders_encoders as de
    import models.densenet as dn
    import models.mnist_ae as ma
    import models.vgg as vg
    import models.wide_resnet as wr
    return types.SimpleNamespace(de=de, dn=dn, ma=ma, re=re, vg=vg, wr=wr)


def fill_range(key, shape):
    """gen_backbones_dw.py's ranges, plus Linear weights (2-D, fan-in shape[1]); a
    ConvTranspose2d weight [in, out, k, k] uses out*k*k, PyTorch's own fan-in for it."""
    if key.endswith(".running_mean"):
        return -0.3, 0.3
    if key.endswith(".running_var"):
        return 0.5, 2.0
    if key.endswith(".bias"):
        return -0.2, 0.2
    if len(shape) == 1:
        return 0.5, 1.5
    fan = shape[1] if len(shape) == 2 else shape[1] * shape[2] * shape[3]
    b = math.sqrt(3.0 / fan)
    return -b, b


def fill(model):
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if k.endswith("num_batches_tracked"):
                continue
            lo, hi = fill_range(k, tuple(v.shape))
            v.copy_(fill_values(k, v.numel(), lo, hi).reshape(v.shape))


class VMDLSNet(nn.Module):
    """The parameter-holding children of GMM_VAE_Contrastive, in its order."""

    def __init__(self, encoder, enc_out_dim):
        super().__init__()
        self.encoder = encoder
        self.fc_mu = nn.Linear(enc_out_dim, LATENT)
        self.fc_var = nn.Linear(enc_out_dim, LATENT)


def record(wr, name, model, meta):
    sd = model.state_dict()
    keys = [[k, list(v.shape), "I64" if v.dtype == torch.int64 else "F32"] for k, v in sd.items()]
    meta = dict(meta, op="reference_state_dict", family="backbone", ref="float64",
                generator="nn/backbone/testdata/gen_reference_golden.py", ref_repo=REF_REPO, ref_commit=REF_COMMIT, keys=keys,
                params=sum(p.numel() for p in model.parameters()))
    wr.add_case(name, meta)
    print("%s: %d state_dict entries, %d parameters" % (name, len(keys), meta["params"]))


def encoder_case(wr, name, enc, enc_out_dim, call, in_shape):
    net = VMDLSNet(enc, enc_out_dim)
    record(wr, name, net, {"enc_out_dim": enc_out_dim, "latent_dim": LATENT, "call": call})
    fill(net)
    net = net.double().eval()
    x = fill_values(name + "/x", 2 * math.prod(in_shape), -2.0, 2.0).reshape(2, *in_shape)
    with torch.no_grad():
        x64 = x.to(F64)
        h = net.encoder(x64)
        taps = [torch.flatten(net.encoder.get_layer_output(x64, i), 1) for i in (1, 2, 3)]
        wr.add(name + ".x", x)
        wr.add(name + ".h", h)
        for i, t in enumerate(taps):
            wr.add("%s.tap%d" % (name, i), t)
        wr.add(name + ".mu", net.fc_mu(h))
        wr.add(name + ".logvar", net.fc_var(h))
    print("  h %s, taps %s" % (list(h.shape), [list(t.shape) for t in taps]))


def ae_case(wr, name, ae, call, in_shape):
    record(wr, name, ae, {"call": call})
    fill(ae)
    ae = ae.double().eval()
    x = fill_values(name + "/x", 2 * math.prod(in_shape), -2.0, 2.0).reshape(2, *in_shape)
    with torch.no_grad():
        code = ae.fc(ae.encoder(x.to(F64)))
        xhat = ae.decoder(code)
        wr.add(name + ".x", x)
        wr.add(name + ".code", code)
        wr.add(name + ".xhat", xhat)
    print("  code %s, xhat %s" % (list(code.shape), list(xhat.shape)))


def main():
    ref = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("VMDLS_REF", "/tmp/vmdls-ref")
    R = import_reference(ref)
    torch.set_num_threads(2)
    wr = gg.Writer(OUT)
    encoder_case(wr, "mnist-conv", R.de.MnistConvEncoder(), 500, "MnistConvEncoder()", (1, 28, 28))
    encoder_case(wr, "vgg", R.vg.VGGM(), 1024, "VGGM()", (3, 32, 32))
    encoder_case(wr, "resnet18", R.re.resnet18_encoder(False, False), 512, "resnet18_encoder(False, False)", (3, 32, 32))
    encoder_case(wr, "densenet", R.dn.DenseNet3(100, 10), 342, "DenseNet3(100, 10)", (3, 32, 32))
    encoder_case(wr, "wresnet", R.wr.WideResNet(28, 10, 10, 0.0), 640, "WideResNet(28, 10, 10, 0.0)", (3, 32, 32))
    ae_case(wr, "ae_mnist", R.ma.MNIST_AE(input_height=28, enc_type="mnist"),
            'MNIST_AE(input_height=28, enc_type="mnist")', (1, 28, 28))
    ae_case(wr, "ae_resnet", R.ma.MNIST_AE(input_height=32, enc_type="resnet18", enc_out_dim=512, latent_dim=256),
            'MNIST_AE(input_height=32, enc_type="resnet18", enc_out_dim=512, latent_dim=256)', (3, 32, 32))
    n = wr.write()
    print("wrote %s (%d bytes)" % (OUT, n))


if __name__ == "__main__":
    main()
