#!/usr/bin/python3
"""Exercises nn/convert/torch_safetensors.py end to end and writes the files
nn/checkpoint_test.go checks:

  convert_model.safetensors  a Linear+BatchNorm1d+ReLU+Linear model, saved by
                             PyTorch the way training scripts do
                             ({"state_dict": {"module.<key>": ...}, "epoch": 5}),
                             converted with --strip-prefix auto
  convert_io.safetensors     an input batch "x" and the model's eval output "y"

It also converts the safetensors file back to .pt, loads that into a fresh
PyTorch model (strict) and checks that it gives the same outputs.

Run by hand: /usr/bin/python3 nn/testdata/gen_convert.py
"""
import os
import subprocess
import sys
import tempfile

import torch

here = os.path.dirname(os.path.abspath(__file__))
conv = os.path.join(here, "..", "convert", "torch_safetensors.py")
sys.path.insert(0, os.path.dirname(conv))
from torch_safetensors import load_safetensors, save_safetensors  # noqa: E402


def make():
    return torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 3))


torch.manual_seed(7)
model = make()
# A few training-mode batches so the running statistics and the batch
# counter are not their initial values.
with torch.no_grad():
    for _ in range(3):
        model(torch.randn(16, 6) * 2 + 0.5)
model.eval()
x = torch.randn(5, 6)
with torch.no_grad():
    y = model(x)

with tempfile.TemporaryDirectory() as tmp:
    pt = os.path.join(tmp, "model.pt")
    torch.save({"state_dict": {"module." + k: v for k, v in model.state_dict().items()}, "epoch": 5}, pt)
    out = os.path.join(here, "convert_model.safetensors")
    subprocess.run([sys.executable, conv, "to-safetensors", pt, out, "--strip-prefix", "auto",
                    "--metadata", "epoch=5"], check=True)
    back = os.path.join(tmp, "back.pt")
    subprocess.run([sys.executable, conv, "to-torch", out, back], check=True)
    fresh = make()
    fresh.load_state_dict(torch.load(back, weights_only=True), strict=True)
    fresh.eval()
    with torch.no_grad():
        y2 = fresh(x)
    assert torch.equal(y, y2), "round trip changed the outputs"
    sd = torch.load(back, weights_only=True)
    assert sd["1.num_batches_tracked"].dtype == torch.int64 and int(sd["1.num_batches_tracked"]) == 3
    assert list(sd.keys()) == list(model.state_dict().keys()), "key order changed"
    tensors, meta = load_safetensors(out)
    assert meta["epoch"] == "5"
    print("round trip .pt -> safetensors -> .pt: outputs identical, keys", list(sd.keys()))

save_safetensors(os.path.join(here, "convert_io.safetensors"), {"x": x, "y": y})
print("wrote convert_model.safetensors and convert_io.safetensors")
