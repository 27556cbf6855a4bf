#!/usr/bin/python3
"""Writes bench/nets/testdata/loss.safetensors: nets.py's stand-in loss
(triplet_kl_loss of ../shared/anchors/nets.py) and its gradient on fixed
inputs, for bench/nets/loss_test.go.

Run by hand with PyTorch 1.13 (Debian's python3-torch):
    /usr/bin/python3 bench/nets/testdata/gen_loss.py
Tests never run it. The function below is nets.py's, copied; when
../shared/anchors/nets.py is present the script checks that its source is
still the same.

Layout (F32; references computed in float64 from the float32 inputs):
  <case>.z        [B, D] the embeddings
  <case>.labels   [B] the labels, as floats
  <case>.loss     [] the loss
  <case>.grad     [B, D] d loss / d z
  __metadata__[<case>] JSON: ncls
"""
import ast
import inspect
import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "nn", "convert"))
from torch_safetensors import save_safetensors  # noqa: E402


def triplet_kl_loss(z, labels, ncls):
    # all valid triplets (a,p,n): label[a]==label[p], a!=p, label[n]!=label[a]
    d = torch.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1) + 1e-12)   # B x B euclidean
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool)
    pos = same & ~eye
    neg = ~same
    mask = (pos[:, :, None] & neg[:, None, :]).to(z.dtype)                      # B x B x B
    l = F.relu(d[:, :, None] - d[:, None, :] + 0.1)
    trip = (l * mask).sum() / mask.sum()
    onehot = F.one_hot(labels, ncls).to(z.dtype)
    cmean = (onehot.t() @ z) / onehot.sum(0)[:, None]
    kl = ((z - cmean[labels]) ** 2).mean()
    return trip + kl


anchor = os.path.join(HERE, "..", "..", "..", "..", "shared", "anchors", "nets.py")
if os.path.exists(anchor):
    tree = ast.parse(open(anchor).read())
    theirs = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "triplet_kl_loss")
    ours = ast.parse(inspect.getsource(triplet_kl_loss)).body[0]
    if ast.dump(theirs) != ast.dump(ours):
        sys.exit("triplet_kl_loss differs from nets.py's: update the copy here and the Go port")
    print("checked against", os.path.normpath(anchor))

gen = torch.Generator().manual_seed(3)
out, meta = {}, {}


def kink_gap(z, labels):
    """The smallest |D[a][p] - D[a][n] + 0.1| over valid triplets: how close
    the batch comes to relu's kink, where float32 rounding may flip a
    triplet in or out of the gradient."""
    d = torch.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1) + 1e-12)
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    mask = pos[:, :, None] & ~same[:, None, :]
    x = (d[:, :, None] - d[:, None, :] + 0.1).abs()
    return x[mask].min().item()


def case(name, labels, dim, scale, ncls, gap):
    labels = torch.tensor(labels)
    while True:  # redraw until no triplet sits within gap of the kink
        z32 = (torch.randn(len(labels), dim, generator=gen) * scale).float()
        if kink_gap(z32.double(), labels) >= gap:
            break
    z = z32.double().requires_grad_()
    loss = triplet_kl_loss(z, labels, ncls)
    loss.backward()
    out[f"{name}.z"] = z32
    out[f"{name}.labels"] = labels.float()
    out[f"{name}.loss"] = loss.detach().float()
    out[f"{name}.grad"] = z.grad.float()
    meta[name] = json.dumps({"ncls": ncls})
    print(name, "loss", loss.item())


# nets.py's layout: arange(ncls).repeat_interleave(B // ncls).
case("balanced", torch.arange(4).repeat_interleave(5).tolist(), 6, 0.3, 4, 1e-3)
# Uneven, interleaved classes; a scale where some triplets are inactive.
case("uneven", [0, 1, 2, 0, 1, 0, 2, 2, 0, 1, 0], 3, 0.2, 3, 1e-3)
# nets.py's own size for batch 160, 10 classes, latent 32: 345,600 triplets,
# about 0.3 of them per 1e-6 of margin near the kink, so only a narrow gap
# can be kept; 1e-5 is 100 float32 ulps of a distance near 1.
case("nets160", torch.arange(10).repeat_interleave(16).tolist(), 32, 1.0, 10, 1e-5)

save_safetensors(os.path.join(HERE, "loss.safetensors"), out, meta)
print("wrote", os.path.join(HERE, "loss.safetensors"), len(out), "tensors")
