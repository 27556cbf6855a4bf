#!/usr/bin/python3
"""Generate the PyTorch reference ("golden") file for the VMDLS training losses (ovd/losses).

Run by hand from the repository root with Debian's interpreter and its python3-torch:

    /usr/bin/python3 ovd/losses/testdata/gen_losses.py

It rewrites ovd/losses/testdata/losses_golden.safetensors, beside this script. Tests never
run this script.

What it evaluates, in float64 from float32 inputs (the upcast is exact):

* The triplet loss with distancing of the reference (BGU-CS-VIL/vmdls,
  losses/modded_triplets.py, TripletMarginLossModded with margin 0.1 and the current
  neg_margin) on pytorch-metric-learning 0.9.95's defaults, which is not installed here,
  so its pieces are re-stated with plain torch ops:
    - LpDistance(normalize_embeddings=True, p=2, power=1): F.normalize(z, p=2, dim=1)
      (eps 1e-12), then torch.cdist(p=2). cdist is asked for its direct-difference mode:
      on batches over 25 rows its default computes |x|^2 + |y|^2 - 2xy, whose rounding
      (about 7e-4 in float32 at B = 400) is a property of that mode, not of the loss.
      Both modes give a zero gradient where a distance is 0.
    - "all" triplets (get_all_triplets_indices): a != p, y_a == y_p, y_n != y_a,
      brute force over the B^3 mask.
    - l = relu(-(D[a,n] - D[a,p]) + margin) + relu(neg_margin - D[a,n]).
    - AvgNonZeroReducer (ThresholdReducer, low=0): mean of l over l > 0, else mean(l) * 0;
      with no triplets at all, sum(z * 0).
  The margins are rounded to float32 first, as they meet float32 tensors in the reference.
* The Monte-Carlo KL term of the reference's GMM_VAE_Contrastive.step (models/vae.py):
  log_qz = Normal(mu, exp(logvar / 2)).log_prob(z); per class c in torch.unique(y):
  coeff * mean(log_qz[y == c] - Normal(means[c], 0.1 if c < class_num else 1).log_prob(z[y == c]))
  / (number of present classes), summed. Gradients are stored twice: with z as its own
  leaf (grad_z, grad_mu, grad_logvar: the partial derivatives), and through the
  reparameterization z = mu + exp(logvar / 2) * eps with the stored eps
  (grad_mu_total, grad_logvar_total; loss_total is the loss at that float64 z).

Naming per case: <case>.z, .labels (I64), .margin and .neg_margin (F32, shape [1]) for
triplet cases, .loss (F64, shape [1]), .grad_z (F64), .triplets and .positive (I64, shape
[1]); for KL cases <case>.z, .mu, .logvar, .eps, .means (F32), .labels (I64), .class_num
(I64 [1]), .coeff (F32 [1]), .loss, .grad_z, .grad_mu, .grad_logvar, .loss_total,
.grad_mu_total, .grad_logvar_total (F64). __metadata__ lists the cases ("triplet_cases",
"kl_cases", comma-separated) and the torch version. Every case draws from its own
torch.Generator seeded with the CRC-32 of its name, so reruns write identical files.
"""

import json
import os
import struct
import zlib

import numpy as np
import torch
import torch.nn.functional as F

# The output lies beside this script, wherever it is run from.
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "losses_golden.safetensors")

DTYPES = {np.float32: "F32", np.float64: "F64", np.int64: "I64"}


class Writer:
    def __init__(self):
        self.tensors = {}

    def add(self, name, arr, dtype):
        a = np.ascontiguousarray(np.asarray(arr, dtype=dtype))
        if a.ndim == 0:
            a = a.reshape(1)
        self.tensors[name] = a

    def write(self, path, meta):
        header, blobs, off = {}, [], 0
        for name in sorted(self.tensors):
            a = self.tensors[name]
            b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
            header[name] = {
                "dtype": DTYPES[a.dtype.type],
                "shape": list(a.shape),
                "data_offsets": [off, off + len(b)],
            }
            blobs.append(b)
            off += len(b)
        header["__metadata__"] = meta
        h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
        h += b" " * ((8 - len(h) % 8) % 8)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for b in blobs:
                f.write(b)


def gen_for(name):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode("utf-8")))
    return g


def f32(x):
    return float(np.float32(x))


def triplet_loss(z, labels, margin, neg_margin):
    """The reference's loss on z (float64, requires grad); returns (loss, n_triplets, n_positive)."""
    zn = F.normalize(z, p=2, dim=1)
    mat = torch.cdist(zn, zn, p=2, compute_mode="donot_use_mm_for_euclid_dist")
    matches = (labels.unsqueeze(1) == labels.unsqueeze(0)).byte()
    diffs = matches ^ 1
    matches.fill_diagonal_(0)
    a, p, n = torch.where(matches.unsqueeze(2) * diffs.unsqueeze(1))
    if len(a) == 0:
        return torch.sum(z * 0), 0, 0
    ap, an = mat[a, p], mat[a, n]
    loss = F.relu(-(an - ap) + margin) + F.relu(neg_margin - an)
    keep = loss > 0
    npos = int(keep.sum())
    if npos >= 1:
        out = torch.mean(loss[keep])
    else:
        out = torch.mean(loss) * 0
    return out, len(a), npos


def clustered(g, labels, d, spread, noise):
    """Rows near per-class random centers: spread scales the centers, noise the rest."""
    k = int(labels.max()) + 1
    centers = torch.randn(k, d, generator=g) * spread
    return (centers[labels] + noise * torch.randn(len(labels), d, generator=g)).float()


def shuffled_labels(g, classes, per):
    labels = torch.arange(classes).repeat_interleave(per)
    return labels[torch.randperm(len(labels), generator=g)]


def triplet_cases():
    cases = []

    g = gen_for("t_mnist")
    labels = shuffled_labels(g, 8, 8)
    cases.append(("t_mnist", clustered(g, labels, 32, 1.0, 1.0), labels, 0.1, 0.15))

    g = gen_for("t_partial")
    labels = shuffled_labels(g, 4, 10)
    cases.append(("t_partial", clustered(g, labels, 8, 1.0, 0.7), labels, 0.1, 1.3))

    g = gen_for("t_far")
    labels = shuffled_labels(g, 5, 6)
    cases.append(("t_far", clustered(g, labels, 16, 1.0, 0.5), labels, 0.1, 2.5))

    # Duplicate rows inside a class and across classes: D = 0 in both roles.
    g = gen_for("t_dup")
    labels = shuffled_labels(g, 3, 8)
    z = clustered(g, labels, 4, 1.0, 0.6)
    same = [i for i in range(len(labels)) if labels[i] == labels[0]]
    other = [i for i in range(len(labels)) if labels[i] != labels[0]]
    z[same[1]] = z[same[0]]
    z[other[0]] = z[same[2]]
    z[other[1]] = 3.0 * z[same[2]]  # same direction, other norm: D = 0 after normalizing
    cases.append(("t_dup", z, labels, 0.1, 0.9))

    # Unbalanced classes, a singleton (a negative only) and labels not in order.
    g = gen_for("t_unbal")
    labels = torch.tensor([3, 0, 0, 7, 3, 3, 0, 3, 5, 5, 0, 3, 7, 3, 0, 5, 3, 0, 9, 3, 5, 0])
    cases.append(("t_unbal", clustered(g, labels, 6, 0.8, 0.8), labels, 0.1, 0.7))

    # Tight, far-apart classes: triplets exist, none has a positive loss.
    g = gen_for("t_zero")
    labels = shuffled_labels(g, 4, 5)
    z = 5.0 * torch.eye(8)[labels] + 0.01 * torch.randn(len(labels), 8, generator=g)
    cases.append(("t_zero", z.float(), labels, 0.1, 0.15))

    # One class only: no triplets at all.
    g = gen_for("t_oneclass")
    labels = torch.zeros(10, dtype=torch.int64)
    cases.append(("t_oneclass", torch.randn(10, 5, generator=g), labels, 0.1, 0.5))
    return cases


def kl_loss(z, mu, logvar, labels, means, class_num, coeff):
    q = torch.distributions.Normal(mu, torch.exp(logvar / 2))
    log_qz = q.log_prob(z)
    cur = torch.unique(labels)
    kl = 0
    for i in cur:
        sel = labels == i
        n = int(sel.sum())
        rel = z[sel, :]
        std = 0.1 if int(i) < class_num else 1.0
        cp = torch.distributions.Normal(means[int(i), :].repeat(n, 1), torch.ones_like(rel) * std)
        kl_class = (log_qz[sel] - cp.log_prob(rel)).mean() * coeff
        kl = kl + kl_class / len(cur)
    return kl


def kl_cases():
    cases = []
    g = gen_for("k_mnist")
    labels = shuffled_labels(g, 6, 8)
    cases.append(("k_mnist", labels, 16, 6, 0.1, 0.5, g))

    # Some classes absent, and a label == class_num (std 1 in the reference).
    g = gen_for("k_unknown")
    labels = torch.tensor([0, 2, 4, 4, 2, 0, 0, 4, 2, 2, 4, 0, 0, 2, 4, 4, 0, 2, 2, 0, 4, 4, 0, 2])
    cases.append(("k_unknown", labels, 8, 4, 1.0, 1.0, g))
    return cases


def main():
    w = Writer()
    tnames, knames = [], []
    for name, z, labels, margin, neg in triplet_cases():
        margin, neg = f32(margin), f32(neg)
        z = z.float()
        z64 = z.double().requires_grad_()
        loss, nt, npos = triplet_loss(z64, labels, margin, neg)
        (gz,) = torch.autograd.grad(loss, z64, allow_unused=True)
        if gz is None:
            gz = torch.zeros_like(z64)
        w.add(name + ".z", z.numpy(), np.float32)
        w.add(name + ".labels", labels.numpy(), np.int64)
        w.add(name + ".margin", margin, np.float32)
        w.add(name + ".neg_margin", neg, np.float32)
        w.add(name + ".loss", loss.item(), np.float64)
        w.add(name + ".grad_z", gz.detach().numpy(), np.float64)
        w.add(name + ".triplets", nt, np.int64)
        w.add(name + ".positive", npos, np.int64)
        tnames.append(name)
        print(f"{name}: B={len(labels)} loss={loss.item():.6g} triplets={nt} positive={npos}")

    for name, labels, d, class_num, coeff, mean_scale, g in kl_cases():
        coeff = f32(coeff)
        b = len(labels)
        rows = int(labels.max()) + 1
        mu = torch.randn(b, d, generator=g)
        logvar = torch.rand(b, d, generator=g) * 4 - 3
        eps = torch.randn(b, d, generator=g)
        means = torch.randn(rows, d, generator=g) * mean_scale
        z = mu + torch.exp(logvar / 2) * eps  # float32, as the model computes it

        zl, ml, ll = (t.double().requires_grad_() for t in (z, mu, logvar))
        loss = kl_loss(zl, ml, ll, labels, means.double(), class_num, coeff)
        gz, gm, gl = torch.autograd.grad(loss, (zl, ml, ll))

        m2, l2 = mu.double().requires_grad_(), logvar.double().requires_grad_()
        z2 = m2 + torch.exp(l2 / 2) * eps.double()
        loss2 = kl_loss(z2, m2, l2, labels, means.double(), class_num, coeff)
        gm2, gl2 = torch.autograd.grad(loss2, (m2, l2))

        for suffix, t in (("z", z), ("mu", mu), ("logvar", logvar), ("eps", eps), ("means", means)):
            w.add(f"{name}.{suffix}", t.numpy(), np.float32)
        w.add(name + ".labels", labels.numpy(), np.int64)
        w.add(name + ".class_num", class_num, np.int64)
        w.add(name + ".coeff", coeff, np.float32)
        w.add(name + ".loss", loss.item(), np.float64)
        w.add(name + ".grad_z", gz.numpy(), np.float64)
        w.add(name + ".grad_mu", gm.numpy(), np.float64)
        w.add(name + ".grad_logvar", gl.numpy(), np.float64)
        w.add(name + ".loss_total", loss2.item(), np.float64)
        w.add(name + ".grad_mu_total", gm2.numpy(), np.float64)
        w.add(name + ".grad_logvar_total", gl2.numpy(), np.float64)
        knames.append(name)
        print(f"{name}: B={b} d={d} loss={loss.item():.6g} loss_total={loss2.item():.6g}")

    meta = {
        "format": "vmdls losses golden v1",
        "generator": "ovd/losses/testdata/gen_losses.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "triplet_cases": ",".join(tnames),
        "kl_cases": ",".join(knames),
    }
    w.write(OUT, meta)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
