#!/usr/bin/python3
"""Generate the PyTorch reference ("golden") file for the MNIST autoencoder.

Run by hand from the repository root with Debian's interpreter and python3-torch:

    /usr/bin/python3 nn/backbone/testdata/gen_autoencoder.py

It rewrites nn/backbone/testdata/autoencoder.safetensors, read by
nn/backbone/autoencoder_test.go through internal/golden.

The net is METHOD.md section 5's MNIST autoencoder with the module layout of the
reference's MNIST_AE (models/mnist_ae.py and models/decoders_encoders.py of
BGU-CS-VIL/vmdls), written here from that layout so its state_dict keys are the
reference's: encoder = MnistConvEncoder (encoder.encoder.{0,2,5,7,10}, the Sequential
of five 3x3 convolutions with ReLUs and max pools, and encoder.dec_layer =
Linear(900, 500)); decoder = MnistConvDecoder (decoder.latent = Linear(32, 500),
decoder.enc_layer = Linear(500, 900), no activation between them, viewed as 100x3x3,
then decoder.decoder = six ConvTranspose2d(100, 100, 2) of strides 1, 1, 1, 1, 2, 2 each
followed by ReLU, keys decoder.decoder.{0,2,4,6,8,10}, and Conv2d(100, 1, 1) as
decoder.decoder.12); fc = Linear(500, 32), registered last as in the reference.

Its 1.5M parameters are not committed: they come from the counter-based hash of
gen_backbones_ab.py (detfill, imported from there; detFill in the Go tests), value i of
key k being center + bound * (2 * (mix(i * 0x9E3779B1 + crc32(k)) + 0.5) / 2^32 - 1).
Weights use bound sqrt(6 / fan_in) (so the signal survives the ten layers), biases
1 / sqrt(fan_in), with fan_in as PyTorch computes it (shape[1] * kernel area).
__metadata__["ae"]["keys"] lists [key, shape, center, bound] in state_dict order;
ae.probe holds the first 4 values of every tensor.

Tensors:
    ae.in0           input [2, 1, 28, 28], uniform in [0, 1]
    ae.code          Encode(input) [2, 32]
    ae.recon         Forward(input) [2, 1, 28, 28]
    ae.loss          mse_loss(recon, input) (mean), shape [1]
    ae.grad0         d loss / d input (through both the net and the target)
    ae.grad.<key>    d loss / d parameter, for the keys in meta grad_keys
    ae.adam_loss     [3]: the loss after each of 3 steps of Adam(lr 1e-4) from these
                     weights on the same batch (the step at loss k uses the gradient
                     at the weights of step k-1; the input is a constant there)

The net runs in float64 on the float32 values, so the Go test's error is its own.
"""

import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "internal", "golden", "testdata"))
import gen_golden as gg  # noqa: E402
from gen_backbones_ab import detfill  # noqa: E402

F64 = torch.float64
OUT = os.path.join(HERE, "autoencoder.safetensors")


class MnistConvEncoder(nn.Module):
    """The reference's MnistConvEncoder (mnist-conv), as nn/backbone/mnistconv.go builds it."""

    def __init__(self):
        super().__init__()
        c = 100
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 3, 1, 1), nn.ReLU(), nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(), nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2))
        self.dec_layer = nn.Linear(c * 3 * 3, 500)

    def forward(self, x):
        return self.dec_layer(torch.flatten(self.encoder(x), 1))


class MnistConvDecoder(nn.Module):
    """The reference's MnistConvDecoder: 32 -> 500 -> 900, viewed 100x3x3, upsampled to 28x28."""

    def __init__(self):
        super().__init__()
        self.latent = nn.Linear(32, 500)
        self.enc_layer = nn.Linear(500, 900)
        L = []
        for s in (1, 1, 1, 1, 2, 2):  # 3 -> 4 -> 5 -> 6 -> 7 -> 14 -> 28
            L += [nn.ConvTranspose2d(100, 100, 2, s), nn.ReLU()]
        L.append(nn.Conv2d(100, 1, 1))
        self.decoder = nn.Sequential(*L)

    def forward(self, code):
        return self.decoder(self.enc_layer(self.latent(code)).view(-1, 100, 3, 3))


class MnistAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = MnistConvEncoder()
        self.decoder = MnistConvDecoder()
        self.fc = nn.Linear(500, 32)

    def encode(self, x):
        return self.fc(self.encoder(x))

    def forward(self, x):
        return self.decoder(self.encode(x))


def fill(model):
    keys, probe = [], []
    mods = dict(model.named_modules())
    for k, t in model.state_dict().items():
        mod, leaf = k.rsplit(".", 1)
        w = mods[mod].weight
        fan_in = w.shape[1] * int(np.prod(w.shape[2:]))
        b = np.sqrt(6.0 / fan_in) if leaf == "weight" else 1.0 / np.sqrt(fan_in)
        keys.append([k, list(t.shape), 0.0, float(b)])
        v = detfill(k, t.numel(), 0.0, b)
        with torch.no_grad():
            t.copy_(torch.from_numpy(v.reshape(tuple(t.shape))))
        probe.append(v[:4])
    return keys, np.concatenate(probe)


def main():
    torch.set_num_threads(1)
    wr = gg.Writer(OUT)
    model = MnistAE()
    keys, probe = fill(model)
    nparams = sum(p.numel() for p in model.parameters())
    model = model.double()
    g = gg.gen_for("ae/x")
    x = torch.rand((2, 1, 28, 28), generator=g, dtype=torch.float32)
    x64 = x.to(F64).requires_grad_(True)
    code = model.encode(x64)
    recon = model.decoder(code)
    loss = nn.functional.mse_loss(recon, x64)
    grad_keys = ["encoder.encoder.0.weight", "fc.weight", "decoder.enc_layer.bias", "decoder.decoder.10.weight"]
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(loss, [x64] + [params[k] for k in grad_keys])
    wr.add("ae.in0", x)
    wr.add("ae.code", code)
    wr.add("ae.recon", recon)
    wr.add("ae.loss", loss.reshape(1))
    wr.add("ae.grad0", grads[0])
    for k, gr in zip(grad_keys, grads[1:]):
        wr.add("ae.grad." + k, gr)
    wr.add("ae.probe", torch.from_numpy(probe))

    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    xc = x.to(F64)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(xc), xc).backward()
        opt.step()
        with torch.no_grad():
            losses.append(nn.functional.mse_loss(model(xc), xc).item())
    wr.add("ae.adam_loss", torch.tensor(losses, dtype=F64))
    print("loss %.6g, adam losses %s" % (loss.item(), losses))
    wr.add_case("ae", {"op": "mnist_ae", "family": "autoencoder", "inputs": 1, "grads": [0],
                       "ref": "float64", "training": True, "keys": keys, "num_params": nparams,
                       "grad_keys": grad_keys})
    n = wr.write()
    print("wrote %s (%d bytes)" % (OUT, n))


if __name__ == "__main__":
    main()
