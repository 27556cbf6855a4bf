#!/usr/bin/env python3
"""Convert PyTorch checkpoints to safetensors (for vmdls-go) and back.

    torch_safetensors.py to-safetensors model.pt model.safetensors [options]
    torch_safetensors.py to-torch model.safetensors model.pt [options]
    torch_safetensors.py info model.safetensors

Needs only PyTorch (and numpy, which PyTorch uses); the safetensors format is
read and written here directly, so the `safetensors` pip package is not
required. See README.md beside this file.
"""
import argparse
import collections
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch

# safetensors dtype name <-> torch dtype, and the numpy little-endian type
# used to move the bytes (bfloat16 travels as its raw 16 bits).
DTYPES = {
    "F64": (torch.float64, "<f8"),
    "F32": (torch.float32, "<f4"),
    "F16": (torch.float16, "<f2"),
    "BF16": (torch.bfloat16, "<i2"),
    "I64": (torch.int64, "<i8"),
    "I32": (torch.int32, "<i4"),
    "I16": (torch.int16, "<i2"),
    "I8": (torch.int8, "<i1"),
    "U8": (torch.uint8, "<u1"),
    "BOOL": (torch.bool, "<u1"),
}
NAME_OF = {t: name for name, (t, _) in DTYPES.items()}
ITEMSIZE = {name: np.dtype(np_t).itemsize for name, (_, np_t) in DTYPES.items()}

# Keys a vmdls-go checkpoint keeps beside the model's state_dict.
TRAINING_PREFIXES = ("optimizer.", "extra.")
# Where checkpoints of common training code keep the model's state_dict.
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "net", "model")
MAX_HEADER = 100 << 20


def _tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    name = NAME_OF.get(t.dtype)
    if name is None:
        raise ValueError(f"unsupported dtype {t.dtype}")
    if t.dtype == torch.bfloat16:
        arr = t.view(torch.int16).numpy()
    else:
        arr = t.numpy()
    return name, arr.astype(DTYPES[name][1], copy=False).tobytes()


def save_safetensors(path, tensors, metadata=None):
    """Write an ordered mapping name -> tensor to path, atomically (temporary
    file in the same directory, fsync, rename). Data is laid out 8-byte types
    first so every tensor is aligned to its element size."""
    entries = []
    for name, t in tensors.items():
        dtype, data = _tensor_bytes(t)
        entries.append((name, dtype, list(t.shape), data))
    order = sorted(range(len(entries)), key=lambda i: -ITEMSIZE[entries[i][1]])
    offsets = {}
    pos = 0
    for i in order:
        n = len(entries[i][3])
        offsets[i] = [pos, pos + n]
        pos += n
    header = collections.OrderedDict()
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in sorted(metadata.items())}
    for i, (name, dtype, shape, _) in enumerate(entries):
        if name == "__metadata__":
            raise ValueError("__metadata__ cannot name a tensor")
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": offsets[i]}
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(hb)))
            f.write(hb)
            for i in order:
                f.write(entries[i][3])
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass  # platforms that cannot sync a directory


def load_safetensors(path):
    """Read a safetensors file: (OrderedDict name -> tensor in header order,
    metadata dict). Validates the header length, offsets and shapes."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER or n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} is absurd or exceeds the file")
    header = json.loads(data[8:8 + n].decode("utf-8"), object_pairs_hook=collections.OrderedDict)
    body = memoryview(data)[8 + n:]
    metadata = dict(header.pop("__metadata__", {}) or {})
    out = collections.OrderedDict()
    for name, e in header.items():
        dtype = e["dtype"]
        if dtype not in DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dtype}")
        begin, end = e["data_offsets"]
        shape = [int(d) for d in e["shape"]]
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= begin <= end <= len(body)) or end - begin != count * ITEMSIZE[dtype]:
            raise ValueError(f"{path}: tensor {name}: data_offsets {e['data_offsets']} do not fit shape {shape} of {dtype}")
        torch_t, np_t = DTYPES[dtype]
        arr = np.frombuffer(body[begin:end], dtype=np_t).copy().reshape(shape)
        t = torch.from_numpy(arr)
        if torch_t == torch.bfloat16:
            t = t.view(torch.bfloat16)
        elif torch_t == torch.bool:
            t = t.to(torch.bool)
        out[name] = t
    return out, metadata


def _is_state_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(torch.is_tensor(v) for v in obj.values())


def find_state_dict(obj, key=None):
    """The state_dict inside a loaded checkpoint: the object itself, a module's
    state_dict(), or the dict under key (or under one of STATE_DICT_KEYS)."""
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if key is not None:
        for part in key.split("/"):
            if not isinstance(obj, dict) or part not in obj:
                raise KeyError(f"no entry {key!r} in the checkpoint")
            obj = obj[part]
        if isinstance(obj, torch.nn.Module):
            return obj.state_dict()
        if not isinstance(obj, dict):
            raise ValueError(f"entry {key!r} is not a state_dict")
        return obj
    if not isinstance(obj, dict):
        raise ValueError(f"the checkpoint holds a {type(obj).__name__}, not a state_dict")
    tensors = [k for k, v in obj.items() if torch.is_tensor(v)]
    if tensors and len(tensors) == len(obj):
        return obj
    for k in STATE_DICT_KEYS:
        v = obj.get(k)
        if isinstance(v, torch.nn.Module):
            return v.state_dict()
        if _is_state_dict(v):
            return v
    if tensors:
        return obj  # a state_dict with a few non-tensor entries; they are skipped
    raise ValueError("no state_dict found (looked for the checkpoint itself and the keys "
                     + ", ".join(STATE_DICT_KEYS) + "); name it with --key")


def strip_prefixes(state, prefixes):
    """Remove the first matching prefix from each key that has one."""
    out = collections.OrderedDict()
    for k, v in state.items():
        for p in prefixes:
            if k.startswith(p):
                k = k[len(p):]
                break
        if k in out:
            raise ValueError(f"stripping {prefixes} makes two keys named {k!r}")
        out[k] = v
    return out


def load_torch(path, trust=False):
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust)
    except TypeError:  # PyTorch older than 1.13 has no weights_only
        if not trust:
            raise SystemExit(f"{path}: this PyTorch cannot load checkpoints safely; rerun with --trust if you trust the file")
        return torch.load(path, map_location="cpu")
    except Exception as e:
        if trust:
            raise
        raise SystemExit(f"{path}: cannot be loaded as plain weights ({e}).\n"
                         "It may hold pickled Python objects (a Lightning .ckpt, a whole model); "
                         "if you trust the file, rerun with --trust.")


def to_safetensors(args):
    obj = load_torch(args.input, args.trust)
    state = find_state_dict(obj, args.key)
    prefixes = []
    for p in args.strip_prefix or []:
        prefixes += ["module.", "model."] if p == "auto" else [p]
    out = collections.OrderedDict()
    skipped = []
    for k, v in state.items():
        if not torch.is_tensor(v):
            skipped.append(k)
            continue
        v = v.detach().cpu()
        if not args.keep_dtypes:
            if v.is_floating_point():
                v = v.to(torch.float32)
            elif v.dtype != torch.bool:
                v = v.to(torch.int64)
        out[k] = v
    out = strip_prefixes(out, prefixes)
    meta = {"format": "pt", "source": os.path.basename(args.input)}
    for kv in args.metadata or []:
        k, _, v = kv.partition("=")
        meta[k] = v
    save_safetensors(args.output, out, meta)
    for k in skipped:
        print(f"skipped non-tensor entry {k!r}", file=sys.stderr)
    print(f"wrote {len(out)} tensors to {args.output}")


def to_torch(args):
    tensors, meta = load_safetensors(args.input)
    state = collections.OrderedDict()
    for k, v in tensors.items():
        if not args.all and k.startswith(TRAINING_PREFIXES):
            continue
        state[args.add_prefix + k] = v
    torch.save(state, args.output)
    print(f"wrote {len(state)} tensors to {args.output}")


def info(args):
    tensors, meta = load_safetensors(args.input)
    for k, v in meta.items():
        print(f"metadata {k} = {v}")
    for k, v in tensors.items():
        print(f"{k}\t{NAME_OF[v.dtype]}\t{list(v.shape)}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("to-safetensors", help="PyTorch .pt/.pth/.ckpt -> safetensors")
    a.add_argument("input")
    a.add_argument("output")
    a.add_argument("--key", help="where the state_dict sits in the checkpoint (e.g. state_dict, or a/b for nested dicts); "
                                 "default: the checkpoint itself, else " + ", ".join(STATE_DICT_KEYS))
    a.add_argument("--strip-prefix", action="append", metavar="PREFIX",
                   help="remove PREFIX from the start of keys that have it (repeatable); "
                        "'auto' strips 'module.' (DataParallel) or 'model.' (Lightning)")
    a.add_argument("--keep-dtypes", action="store_true",
                   help="keep each tensor's dtype (default: floating point -> float32, integers -> int64, "
                        "what vmdls-go reads)")
    a.add_argument("--metadata", action="append", metavar="KEY=VALUE", help="add a metadata entry (repeatable)")
    a.add_argument("--trust", action="store_true",
                   help="allow arbitrary pickled objects in the input (only for files you trust)")
    a.set_defaults(fn=to_safetensors)
    b = sub.add_parser("to-torch", help="safetensors -> PyTorch state_dict (.pt)")
    b.add_argument("input")
    b.add_argument("output")
    b.add_argument("--add-prefix", default="", metavar="PREFIX", help="prepend PREFIX to every key (e.g. module.)")
    b.add_argument("--all", action="store_true",
                   help="keep the training state of vmdls-go checkpoints (optimizer.*, extra.*) too")
    b.set_defaults(fn=to_torch)
    c = sub.add_parser("info", help="list a safetensors file's metadata and tensors")
    c.add_argument("input")
    c.set_defaults(fn=info)
    args = ap.parse_args(argv)
    try:
        args.fn(args)
    except (ValueError, KeyError, OSError) as e:
        raise SystemExit(f"{args.cmd}: {args.input}: {e}")


if __name__ == "__main__":
    main()
