#!/usr/bin/python3
"""Generate the PyTorch reference ("golden") file for the CIFAR ResNet-18 autoencoder.

Run by hand from the repository root with Debian's interpreter and python3-torch:

    /usr/bin/python3 nn/backbone/testdata/gen_ae_resnet.py

It rewrites nn/backbone/testdata/ae_resnet.safetensors, read by
nn/backbone/resnet_ae_test.go through internal/golden.

The net is METHOD.md section 5's CIFAR autoencoder: PyTorch-Lightning-Bolts' AE with
enc_type "resnet18", first_conv = maxpool1 = False, enc_out_dim 512, latent_dim 256,
input_height 32. Bolts is not installed, so its modules are rebuilt below from their
published structure with the same attribute names and registration order, which fix the
state_dict keys: encoder.* (torchvision-style ResNet-18 with a 3x3 stride-1 stem, a
kernel-1 max pool), decoder.* (linear, layer1..layer4 of DecoderBlocks whose upsampling
convolutions are Sequential(Interpolate, conv), conv1) and fc.*.

Its 28M parameters are not committed: they come from the counter-based hash of
gen_backbones_ab.py (detfill, imported from there; detFill in the Go tests). Batch-norm
tensors use gen_backbones_ab's ranges; convolution and linear weights use bound
sqrt(3 / fan_in) (unit gain, so eval mode, where batch norm does not renormalize, keeps a
signal through the 40 layers), linear biases 1 / sqrt(fan_in).
__metadata__[case]["keys"] lists [key, shape, center, bound] in state_dict order;
<case>.probe holds the first 4 values of every tensor.

Cases (the weights are filled afresh for each):
    aer_eval     eval mode (running statistics): .in0 [2, 3, 32, 32], .code [2, 256],
                 .recon [2, 3, 32, 32], .loss [1]
    aer_train    train mode (batch statistics): the same tensors, plus
                 .grad0 = d loss / d input (through the net and the target),
                 .grad.<key> for the keys in meta grad_keys, and
                 .adam_loss [3]: the loss after each of 3 steps of Adam(lr 1e-4) on the
                 same batch (a constant input there), each evaluated in train mode;
                 .kinks, .kink_counts: the ReLU kink log of every forward of the case
                 (the first, then two per Adam step), see kinks.py.

The net runs in float64 on the float32 values, so the Go test's error is its own.
"""

import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "internal", "golden", "testdata"))
import gen_golden as gg  # noqa: E402
from gen_backbones_ab import detfill  # noqa: E402
from kinks import KINK_REL, KINKS, ReLU  # noqa: E402

F64 = torch.float64
OUT = os.path.join(HERE, "ae_resnet.safetensors")


def conv(cin, cout, k, stride=1):
    return nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)


class Resize(nn.Module):
    """Bolts' Interpolate: F.interpolate, nearest, by size or scale factor."""
    def __init__(self, size=None, scale_factor=None):
        super().__init__()
        self.size, self.scale_factor = size, scale_factor

    def forward(self, x):
        return F.interpolate(x, size=self.size, scale_factor=self.scale_factor)


def resize_conv(cin, cout, k, scale):
    return conv(cin, cout, k) if scale == 1 else nn.Sequential(Resize(scale_factor=scale), conv(cin, cout, k))


class EncBlock(nn.Module):
    def __init__(self, cin, cout, stride, downsample):
        super().__init__()
        self.conv1 = conv(cin, cout, 3, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = ReLU()
        self.conv2 = conv(cout, cout, 3)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = downsample

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = conv(3, 64, 3)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = ReLU()
        self.maxpool = nn.MaxPool2d(1, 1)
        cin = 64
        for i, c in enumerate([64, 128, 256, 512]):
            s = 1 if i == 0 else 2
            ds = None
            if s != 1 or cin != c:
                ds = nn.Sequential(conv(cin, c, 1, s), nn.BatchNorm2d(c))
            setattr(self, "layer%d" % (i + 1), nn.Sequential(EncBlock(cin, c, s, ds), EncBlock(c, c, 1, None)))
            cin = c
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


class DecBlock(nn.Module):
    def __init__(self, cin, cout, scale, upsample):
        super().__init__()
        self.conv1 = resize_conv(cin, cin, 3, 1)
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu = ReLU()
        self.conv2 = resize_conv(cin, cout, 3, scale)
        self.bn2 = nn.BatchNorm2d(cout)
        self.upsample = upsample

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(y + (x if self.upsample is None else self.upsample(x)))


class Decoder(nn.Module):
    def __init__(self, latent):
        super().__init__()
        self.linear = nn.Linear(latent, 512 * 4 * 4)
        cin = 512
        for i, (c, s) in enumerate([(256, 2), (128, 2), (64, 2), (64, 1)]):
            up = None
            if s != 1 or cin != c:
                up = nn.Sequential(resize_conv(cin, c, 1, s), nn.BatchNorm2d(c))
            setattr(self, "layer%d" % (i + 1), nn.Sequential(DecBlock(cin, c, s, up), DecBlock(c, c, 1, None)))
            cin = c
        self.upscale = Resize(scale_factor=1)
        self.upscale1 = Resize(size=32 // 8)
        self.conv1 = conv(64, 3, 3)

    def forward(self, z):
        x = self.upscale1(self.linear(z).view(z.shape[0], 512, 4, 4))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.conv1(self.upscale(x))


class AE(nn.Module):
    """The Bolts AE's modules in its order: encoder, decoder, fc."""
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.decoder = Decoder(256)
        self.fc = nn.Linear(512, 256)

    def encode(self, x):
        return self.fc(self.encoder(x))

    def forward(self, x):
        return self.decoder(self.encode(x))


def spec(model, key):
    leaf = key.rsplit(".", 1)[-1]
    mod = model.get_submodule(key.rsplit(".", 1)[0])
    if isinstance(mod, nn.BatchNorm2d):
        return {"weight": (1.0, 0.2), "bias": (0.0, 0.2), "running_mean": (0.0, 0.2),
                "running_var": (1.0, 0.3), "num_batches_tracked": (0.0, 0.0)}[leaf]
    w = mod.weight
    fan_in = w.shape[1] * int(np.prod(w.shape[2:]))
    return (0.0, float(np.sqrt(3.0 / fan_in)) if leaf == "weight" else float(1.0 / np.sqrt(fan_in)))


def fill(model):
    keys, probe = [], []
    for k, t in model.state_dict().items():
        c, b = spec(model, k)
        keys.append([k, list(t.shape), c, b])
        if k.endswith("num_batches_tracked"):
            continue
        v = detfill(k, t.numel(), c, b)
        with torch.no_grad():
            t.copy_(torch.from_numpy(v.reshape(tuple(t.shape))))
        probe.append(v[:4])
    return keys, np.concatenate(probe)


# Small tensors only (the file is committed), covering both ends of the encoder, fc, the
# decoder's linear layer, a batch norm and a resize convolution of the decoder and its
# last convolution.
GRAD_KEYS = ["encoder.conv1.weight", "encoder.layer4.1.bn2.weight", "fc.bias",
             "decoder.linear.bias", "decoder.layer2.0.bn1.weight",
             "decoder.layer3.0.upsample.0.1.weight", "decoder.conv1.weight"]


def case(wr, name, training):
    model = AE()
    keys, probe = fill(model)
    nparams = sum(p.numel() for p in model.parameters())
    model = model.double().train(training)
    x = gg.randn(gg.gen_for(name + "/x"), (2, 3, 32, 32))
    x64 = x.to(F64).requires_grad_(training)
    KINKS.on = training
    code = model.encode(x64)
    recon = model.decoder(code)
    loss = F.mse_loss(recon, x64)
    wr.add(name + ".in0", x)
    wr.add(name + ".code", code)
    wr.add(name + ".recon", recon)
    wr.add(name + ".loss", loss.reshape(1))
    wr.add(name + ".probe", torch.from_numpy(probe))
    meta = {"op": "resnet_ae", "family": "autoencoder", "inputs": 1, "ref": "float64",
            "training": training, "keys": keys, "num_params": nparams}
    if training:
        params = dict(model.named_parameters())
        grads = torch.autograd.grad(loss, [x64] + [params[k] for k in GRAD_KEYS])
        wr.add(name + ".grad0", grads[0])
        for k, gr in zip(GRAD_KEYS, grads[1:]):
            wr.add("%s.grad.%s" % (name, k), gr)
        meta.update(grads=[0], grad_keys=GRAD_KEYS)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        xc = x.to(F64)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            F.mse_loss(model(xc), xc).backward()
            opt.step()
            with torch.no_grad():
                losses.append(F.mse_loss(model(xc), xc).item())
        wr.add(name + ".adam_loss", torch.tensor(losses, dtype=F64))
        KINKS.on = False
        meta.update(kink_rel=KINK_REL)
        print("%s: %d near-kink ReLU inputs logged" % (name, KINKS.save(wr, name)))
        print("%s: loss %.6g, adam losses %s" % (name, loss.item(), losses))
    else:
        print("%s: loss %.6g" % (name, loss.item()))
    wr.add_case(name, meta)


def main():
    torch.set_num_threads(1)
    wr = gg.Writer(OUT)
    case(wr, "aer_eval", False)
    case(wr, "aer_train", True)
    n = wr.write()
    print("wrote %s (%d bytes)" % (OUT, n))


if __name__ == "__main__":
    main()
