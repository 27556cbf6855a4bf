#!/usr/bin/python3
"""Writes the golden files the data package's transform tests compare with.

Run by hand from this folder with Debian's python3 (torch 1.13, torchvision
0.14, Pillow 9.4):  /usr/bin/python3 gen_golden.py [path/to/images_evaluation.npz]
Tests and CI only read transforms_golden.json; they never run Python.

Each case gives an input image (uint8, planar CHW, base64) and the output of
one torchvision/PIL operation with fixed parameters, so the Go side can
check the geometry and PIL's rounding exactly. Random parameters are not
compared (torch's generator is not reproduced); their distributions are
checked in Go.
"""
import base64
import json
import os
import sys

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image, ImageOps

rng = np.random.RandomState(20240611)


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def to_pil(chw):
    c = chw.shape[0]
    if c == 1:
        return Image.fromarray(chw[0], mode="L")
    return Image.fromarray(np.transpose(chw, (1, 2, 0)), mode="RGB")


def from_pil(img):
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[None]
    else:
        a = np.transpose(a, (2, 0, 1))
    return np.ascontiguousarray(a, dtype=np.uint8)


def smooth_image(c, h, w):
    """Random but spatially smooth content, so resampling errors show."""
    base = rng.randint(0, 256, size=(c, (h + 3) // 4 + 1, (w + 3) // 4 + 1)).astype(np.uint8)
    big = np.stack([np.asarray(Image.fromarray(p).resize((w, h), Image.BICUBIC)) for p in base])
    noise = rng.randint(-20, 21, size=(c, h, w))
    return np.clip(big.astype(int) + noise, 0, 255).astype(np.uint8)


cases = []


def add(op, chw, out, **params):
    cases.append({"op": op, "params": params, "in_shape": list(chw.shape), "in": b64(chw),
                  "out_shape": list(out.shape), "out": b64(out)})


# Resize (PIL bilinear, antialiased when shrinking), gray and RGB.
for (c, h, w, oh, ow) in [(1, 37, 23, 28, 28), (3, 13, 17, 32, 29), (3, 64, 48, 20, 30), (1, 105, 105, 28, 28), (1, 28, 28, 28, 14)]:
    im = smooth_image(c, h, w)
    add("resize", im, from_pil(F.resize(to_pil(im), [oh, ow])), h=oh, w=ow)

# Resize with an int: shorter side.
im = smooth_image(3, 40, 30)
add("resize_short", im, from_pil(F.resize(to_pil(im), 24)), size=24)

# Rotation, nearest (torchvision's default) and bilinear, fill 0 and 7.
for (c, h, w) in [(1, 28, 28), (3, 32, 32), (1, 21, 30)]:
    im = smooth_image(c, h, w)
    for angle in [7.3, -9.9, 45.0, 90.0, 180.0, 200.5, -3.14159]:
        for interp, name in [(F.InterpolationMode.NEAREST, "nearest"), (F.InterpolationMode.BILINEAR, "bilinear")]:
            fill = 0 if angle != 45.0 else 7
            out = F.rotate(to_pil(im), angle, interpolation=interp, fill=[fill] * c)
            add("rotate", im, from_pil(out), angle=angle, interp=name, fill=fill)

# Crop, including windows reaching outside (PIL pads with 0).
im = smooth_image(3, 32, 32)
for (top, left, h, w) in [(0, 0, 32, 32), (3, 5, 20, 24), (-4, -4, 32, 32), (4, 4, 32, 32), (-2, 6, 30, 30)]:
    add("crop", im, from_pil(F.crop(to_pil(im), top, left, h, w)), top=top, left=left, h=h, w=w)

# RandomCrop(32, padding=4) at a fixed offset: pad then crop.
for (i, j) in [(0, 0), (8, 8), (3, 6)]:
    padded = F.pad(to_pil(im), 4, fill=0)
    add("padcrop", im, from_pil(F.crop(padded, i, j, 32, 32)), i=i, j=j, padding=4, h=32, w=32)

# Horizontal flip.
add("hflip", im, from_pil(F.hflip(to_pil(im))))

# CenterCrop with odd differences (Python round half to even).
for (c, h, w, oh, ow) in [(3, 32, 32, 25, 27), (1, 30, 31, 24, 24), (3, 36, 36, 32, 32), (1, 27, 30, 32, 33)]:
    im2 = smooth_image(c, h, w)
    add("center_crop", im2, from_pil(F.center_crop(to_pil(im2), [oh, ow])), h=oh, w=ow)

# resized_crop: the geometry of RandomResizedCrop for fixed parameters.
im = smooth_image(1, 28, 28)
for (i, j, h, w) in [(0, 0, 28, 28), (1, 0, 27, 27), (0, 1, 26, 28), (1, 1, 27, 26)]:
    add("resized_crop", im, from_pil(F.resized_crop(to_pil(im), i, j, h, w, [28, 28])), i=i, j=j, h=h, w=w, size=28)

# The mnist training pipeline's geometry with fixed parameters: rotate
# (nearest, fill 0) then resized_crop to 28.
for (angle, i, j, h, w) in [(6.5, 0, 1, 27, 27), (-8.25, 1, 0, 28, 27)]:
    p = F.rotate(to_pil(im), angle, fill=[0])
    add("mnist_geometry", im, from_pil(F.resized_crop(p, i, j, h, w, [28, 28])), angle=angle, i=i, j=j, h=h, w=w)

# Invert.
add("invert", im, from_pil(ImageOps.invert(to_pil(im))))

# RGB -> L, PIL's luma (how a colour PNG loads for Omniglot's convert('L')).
rgb = smooth_image(3, 9, 11)
add("luma", rgb, from_pil(to_pil(rgb).convert("L")))

# ToTensor then Normalize, compared as float32 bit patterns.
tens = []
for (c, h, w, mean, std) in [(1, 5, 7, [0.5], [0.5]), (3, 4, 6, [0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010])]:
    x = rng.randint(0, 256, size=(c, h, w)).astype(np.uint8)
    t = F.to_tensor(to_pil(x))
    n = F.normalize(t, mean, std)
    tens.append({"in_shape": [c, h, w], "in": b64(x), "mean": mean, "std": std,
                 "to_tensor": b64(t.numpy().astype("<f4")), "normalized": b64(n.numpy().astype("<f4"))})

# Omniglot: real evaluation images (inverted, then resized to 28x28 by PIL),
# when the npz is available.
omni = []
npz = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../shared/data/omniglot/images_evaluation.npz")
if os.path.exists(npz):
    z = np.load(npz)
    imgs = z["images"].reshape(-1, 105, 105)
    for k in [0, 1234, 9999]:
        a = np.where(imgs[k] != 0, 255, 0).astype(np.uint8)  # PIL 'L' of the 1-bit PNG
        pil = ImageOps.invert(Image.fromarray(a, mode="L"))
        out = from_pil(F.resize(pil, [28, 28]))
        omni.append({"index": k, "in": b64(a), "out": b64(out)})

json.dump({"generator": "gen_golden.py", "torch": torch.__version__, "torchvision": torchvision.__version__,
           "pil": Image.__version__, "cases": cases, "tensor": tens, "omniglot": omni},
          open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "transforms_golden.json"), "w"))
print(len(cases), "cases,", len(tens), "tensor cases,", len(omni), "omniglot images")
