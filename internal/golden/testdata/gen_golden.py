#!/usr/bin/python3
"""Generate the PyTorch reference ("golden") files for the vmdls tensor and autograd tests.

Run by hand from the repository root, with Debian's interpreter and its python3-torch
(apt-get install -y python3-torch), not whatever python3 comes first on PATH:

    /usr/bin/python3 internal/golden/testdata/gen_golden.py

It rewrites internal/golden/testdata/ops.safetensors (elementwise ops, comparisons,
reductions, softmax family, shape ops) and internal/golden/testdata/gemm.safetensors
(matmul, matmul_t, linear), beside this script. The committed files were made with torch 1.13.0a0 (Debian's
1.13 build) and numpy 1.24.2; both versions are recorded in each file's __metadata__
("torch_version", "numpy_version"). Tests and CI never run this script: they read the
committed files through the Go package in internal/golden.

Format: safetensors (8-byte little-endian header length N, N bytes of JSON header padded
with spaces to a multiple of 8, then the raw little-endian data), written here with
struct/json/numpy so that the `safetensors` pip package is not needed. Every tensor is F32.

Naming, per case (a short name such as add_bcast_row, never containing "."):
    <case>.in0, <case>.in1, ...  inputs (float32, as the Go op receives them)
    <case>.out                   forward output (for max/min: the values)
    <case>.indices               max/min only: the integer indices along the axis, as F32
    <case>.w                     random upstream weight with out's shape
    <case>.grad<i>               d loss / d in<i> with loss = (out * w).sum(), for each
                                 differentiable input i (listed in the metadata's "grads")
Forward-only cases (the comparisons) have no .w and no .grad<i>.
__metadata__["<case>"] is a JSON string: {"op": ..., "family": ..., "inputs": <count>,
"grads": [<input indices with a gradient>], "ref": "float64", ...the op's parameters}.
File-level keys (not cases): "format", "generator", "torch_version", "numpy_version".

Precision: inputs are drawn in float32; every reference output and gradient is then
computed in float64 by torch from those exact float32 values (upcast is exact) and rounded
once to float32 when stored. That applies to all cases ("ref": "float64" in each case's
metadata): for the GEMM cases (matmul, matmul_t, linear) the stored value is the float64
product, so a Go test's measured error is the float32 error of the Go code alone; for the
comparisons, where, max/min indices and the pure data-movement ops (reshape, permute,
transpose, narrow, index_select, cat, stack, expand) float64 and float32 agree exactly, so
the choice does not matter there. No case uses a float32 reference computation.

Inputs avoid the points where a gradient is not defined: |x| >= 1e-2 for relu and abs,
distance >= 1e-2 from clamp's bounds, |a - b| >= 1e-2 between the two operands of
maximum/minimum, a gap >= 1e-2 between the extreme and the runner-up of every max/min
reduction slice (except the max_ties/min_ties cases, which check on purpose that the first
extreme wins and receives the whole gradient, as torch does). log, sqrt, pow_scalar with
a non-integer or negative exponent and pow with a tensor exponent get positive inputs;
div gets denominators with |b| >= 0.5.

Reproducibility: each case draws from its own torch.Generator seeded with the CRC-32 of
its name, so reruns on the same machine write byte-identical files and adding a case does
not change the others.
"""

import json
import os
import struct
import sys
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = HERE  # the script lives in the testdata folder it writes

torch.manual_seed(0)  # nothing should use the global generator; fixed anyway
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)  # one summation order for the float64 references

F64 = torch.float64


class Writer:
    """Collects F32 tensors and per-case metadata for one safetensors file."""

    def __init__(self, path):
        self.path = path
        self.tensors = {}  # name -> float32 numpy array
        self.meta = {}

    def add(self, name, t):
        if name in self.tensors:
            raise ValueError("duplicate tensor " + name)
        a = t.detach().to(torch.float32).contiguous().numpy() if torch.is_tensor(t) else np.asarray(t, dtype=np.float32)
        if not np.all(np.isfinite(a)):
            raise ValueError("non-finite value in " + name)
        # np.ascontiguousarray would turn a 0-d (scalar) array into shape (1,).
        self.tensors[name] = np.array(a, dtype="<f4", order="C", copy=True)

    def add_case(self, name, meta):
        if "." in name or name in self.meta:
            raise ValueError("bad or duplicate case name " + name)
        self.meta[name] = json.dumps(meta, sort_keys=True, separators=(",", ":"))

    def write(self):
        header = {}
        chunks = []
        off = 0
        for name in sorted(self.tensors):
            a = self.tensors[name]
            b = a.tobytes()
            header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
            chunks.append(b)
            off += len(b)
        md = {
            "format": "vmdls golden v1",
            "generator": "internal/golden/testdata/gen_golden.py",
            "torch_version": torch.__version__,
            "numpy_version": np.__version__,
        }
        for k in md:
            if k in self.meta:
                raise ValueError("case name collides with file metadata key " + k)
        md.update(self.meta)
        header["__metadata__"] = md
        h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
        h += b" " * ((-len(h)) % 8)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for c in chunks:
                f.write(c)
        os.replace(tmp, self.path)
        return 8 + len(h) + off


def gen_for(name):
    return torch.Generator().manual_seed(zlib.crc32(name.encode("utf-8")))


def randn(g, shape, scale=1.0):
    return (torch.randn(shape, generator=g, dtype=torch.float32) * scale).to(torch.float32)


def uniform(g, shape, lo, hi):
    return (torch.rand(shape, generator=g, dtype=torch.float32) * (hi - lo) + lo).to(torch.float32)


def away_from(x, points, eps=1e-2):
    """Pushes values lying within eps of any of points out to distance >= eps (float32)."""
    x = x.clone()
    for p in points:
        d = x - p
        near = d.abs() < eps
        sign = torch.where(d >= 0, torch.ones_like(d), -torch.ones_like(d))
        x = torch.where(near, p + sign * (2 * eps + d.abs()), x)
    return x.to(torch.float32)


def signed_away_from_zero(g, shape, lo=0.5, hi=2.0):
    mag = uniform(g, shape, lo, hi)
    s = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0).to(torch.float32)
    return mag * s


def emit(wr, name, op, family, inputs, fn, grads, params=None, forward_only=False):
    """Computes fn on float64 copies of inputs, the weighted-sum loss and its gradients
    with respect to the inputs listed in grads, and records everything under name."""
    g = gen_for(name + "/w")
    xs = []
    for i, x in enumerate(inputs):
        x64 = x.to(F64)
        if i in grads:
            x64.requires_grad_(True)
        xs.append(x64)
        wr.add("%s.in%d" % (name, i), x)
    res = fn(*xs)
    meta = {"op": op, "family": family, "inputs": len(inputs), "grads": sorted(grads), "ref": "float64"}
    if params:
        meta.update(params)
    if isinstance(res, tuple):  # max/min: (values, indices)
        out, idx = res
        wr.add(name + ".indices", idx.to(torch.float32))
    else:
        out = res
    wr.add(name + ".out", out)
    if not forward_only:
        w = randn(g, tuple(out.shape))
        wr.add(name + ".w", w)
        loss = (out * w.to(F64)).sum()
        gs = torch.autograd.grad(loss, [xs[i] for i in sorted(grads)])
        for i, gr in zip(sorted(grads), gs):
            assert tuple(gr.shape) == tuple(inputs[i].shape), (name, i)
            wr.add("%s.grad%d" % (name, i), gr)
    else:
        assert not grads
    wr.add_case(name, meta)


# Broadcasting variants shared by the binary ops: (suffix, shape a, shape b).
BCAST = [
    ("same", (3, 4), (3, 4)),
    ("bcast_row", (3, 4), (4,)),
    ("bcast_col", (2, 3, 4), (3, 1)),
    ("bcast_both", (2, 1, 4), (1, 3, 1)),
    ("bcast_scalar", (3, 4), ()),
    ("bcast_scalar_left", (), (3, 4)),
]


def resample_until(g, make, ok, tries=10000):
    for _ in range(tries):
        v = make(g)
        if ok(*v):
            return v
    raise RuntimeError("could not draw acceptable inputs")


def elementwise(wr):
    fam = "elementwise"
    for op, fn in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul)]:
        for suf, sa, sb in BCAST:
            name = "%s_%s" % (op, suf)
            g = gen_for(name)
            emit(wr, name, op, fam, [randn(g, sa), randn(g, sb)], fn, [0, 1])
    for suf, sa, sb in BCAST:
        name = "div_" + suf
        g = gen_for(name)
        emit(wr, name, "div", fam, [randn(g, sa), signed_away_from_zero(g, sb)], torch.div, [0, 1])
    for op, fn in [("maximum", torch.maximum), ("minimum", torch.minimum)]:
        for suf, sa, sb in BCAST:
            name = "%s_%s" % (op, suf)
            g = gen_for(name)
            a, b = resample_until(
                g,
                lambda g: (randn(g, sa), randn(g, sb)),
                lambda a, b: bool(((a.to(F64) - b.to(F64)).abs() >= 1e-2).all()),
            )
            emit(wr, name, op, fam, [a, b], fn, [0, 1])
    for suf, sa, sb in BCAST:
        name = "pow_" + suf
        g = gen_for(name)
        emit(wr, name, "pow", fam, [uniform(g, sa, 0.25, 3.0), randn(g, sb)], torch.pow, [0, 1])

    name = "add_scalar"
    g = gen_for(name)
    emit(wr, name, "add_scalar", fam, [randn(g, (3, 4))], lambda x: x + 1.5, [0], {"scalar": 1.5})
    name = "mul_scalar"
    g = gen_for(name)
    emit(wr, name, "mul_scalar", fam, [randn(g, (2, 3, 4))], lambda x: x * -0.75, [0], {"scalar": -0.75})
    for name, p, signed in [
        ("pow_scalar_2", 2.0, False),
        ("pow_scalar_0_5", 0.5, False),
        ("pow_scalar_m1_5", -1.5, False),
        ("pow_scalar_3_signed", 3.0, True),
    ]:
        g = gen_for(name)
        x = randn(g, (3, 5)) if signed else uniform(g, (3, 5), 0.2, 3.0)
        emit(wr, name, "pow_scalar", fam, [x], lambda x, p=p: torch.pow(x, p), [0], {"exponent": p})

    unary = [
        ("neg", torch.neg, lambda g: randn(g, (3, 4))),
        ("exp", torch.exp, lambda g: randn(g, (3, 4), 3.0)),
        ("log", torch.log, lambda g: uniform(g, (3, 4), 0.05, 10.0)),
        ("sqrt", torch.sqrt, lambda g: uniform(g, (3, 4), 0.05, 10.0)),
        ("abs", torch.abs, lambda g: away_from(randn(g, (3, 4)), [0.0])),
        ("relu", torch.relu, lambda g: away_from(randn(g, (2, 3, 4)), [0.0])),
        ("sigmoid", torch.sigmoid, lambda g: randn(g, (3, 4), 4.0)),
        ("tanh", torch.tanh, lambda g: randn(g, (3, 4), 2.0)),
        ("square", torch.square, lambda g: randn(g, (3, 4))),
    ]
    for op, fn, make in unary:
        g = gen_for(op)
        emit(wr, op, op, fam, [make(g)], fn, [0])

    name = "clamp"
    g = gen_for(name)
    emit(wr, name, "clamp", fam, [away_from(randn(g, (4, 5)), [-0.5, 0.5])],
         lambda x: torch.clamp(x, -0.5, 0.5), [0], {"lo": -0.5, "hi": 0.5})
    # One-sided: the missing bound is unbounded (±Inf in the Go API).
    name = "clamp_lo"
    g = gen_for(name)
    emit(wr, name, "clamp", fam, [away_from(randn(g, (4, 5)), [-0.25])],
         lambda x: torch.clamp(x, min=-0.25), [0], {"lo": -0.25})
    name = "clamp_hi"
    g = gen_for(name)
    emit(wr, name, "clamp", fam, [away_from(randn(g, (4, 5)), [0.75])],
         lambda x: torch.clamp(x, max=0.75), [0], {"hi": 0.75})


def comparisons(wr):
    fam = "compare"
    ops = [("gt", torch.gt), ("ge", torch.ge), ("lt", torch.lt), ("le", torch.le), ("eq", torch.eq), ("ne", torch.ne)]
    shapes = [("same", (3, 4), (3, 4)), ("bcast_row", (3, 4), (4,)), ("bcast_both", (2, 1, 4), (1, 3, 1)),
              ("bcast_scalar", (3, 4), ())]
    for op, fn in ops:
        for suf, sa, sb in shapes:
            name = "%s_%s" % (op, suf)
            g = gen_for(name)
            # Small integers, so that equality (and the >=/<= edge) occurs often.
            a = torch.randint(-2, 3, sa, generator=g).to(torch.float32)
            b = torch.randint(-2, 3, sb, generator=g).to(torch.float32)
            emit(wr, name, op, fam, [a, b], lambda x, y, fn=fn: fn(x, y).to(F64), [], forward_only=True)
    for op, fn in ops[:5]:  # the Go API has GtScalar, GeScalar, LtScalar, LeScalar, EqScalar
        name = op + "_scalar"
        g = gen_for(name)
        a = torch.randint(-2, 3, (3, 4), generator=g).to(torch.float32)
        emit(wr, name, op + "_scalar", fam, [a], lambda x, fn=fn: fn(x, 1.0).to(F64), [],
             {"scalar": 1.0}, forward_only=True)

    for name, sm, sa, sb in [("where_same", (3, 4), (3, 4), (3, 4)),
                             ("where_bcast", (2, 3, 1), (3, 4), (2, 1, 4))]:
        g = gen_for(name)
        mask = (torch.rand(sm, generator=g) < 0.5).to(torch.float32)
        emit(wr, name, "where", fam, [mask, randn(g, sa), randn(g, sb)],
             lambda m, a, b: torch.where(m != 0, a, b), [1, 2])


def reductions(wr):
    fam = "reduce"
    for op, fn in [("sum", torch.sum), ("mean", torch.mean)]:
        for suf, axes, keep in [("all", [], False), ("all_keepdim", [], True),
                                ("ax1", [1], False), ("ax1_keepdim", [1], True),
                                ("ax02", [0, 2], False), ("ax02_keepdim", [0, 2], True),
                                ("axm1", [-1], False)]:
            name = "%s_%s" % (op, suf)
            g = gen_for(name)
            x = randn(g, (2, 3, 4))
            dims = axes if axes else [0, 1, 2]
            emit(wr, name, op, fam, [x], lambda x, fn=fn, dims=dims, keep=keep: fn(x, dim=dims, keepdim=keep),
                 [0], {"axes": axes, "keepdim": keep})

    def gap_ok(axis):
        def ok(x):
            s = torch.sort(x.to(F64), dim=axis, descending=True).values
            top = s.narrow(axis, 0, 2)
            bot = torch.sort(x.to(F64), dim=axis).values.narrow(axis, 0, 2)
            return bool(((top.narrow(axis, 0, 1) - top.narrow(axis, 1, 1)) >= 1e-2).all()
                        and ((bot.narrow(axis, 1, 1) - bot.narrow(axis, 0, 1)) >= 1e-2).all())
        return ok

    for op, fn in [("max", torch.max), ("min", torch.min)]:
        for suf, shape, axis, keep in [("ax1", (3, 5, 4), 1, False), ("ax1_keepdim", (3, 5, 4), 1, True),
                                       ("axm1", (3, 5, 4), -1, False), ("ax0", (6, 3), 0, False)]:
            name = "%s_%s" % (op, suf)
            g = gen_for(name)
            (x,) = resample_until(g, lambda g: (randn(g, shape),), gap_ok(axis))
            emit(wr, name, op, fam, [x], lambda x, fn=fn, axis=axis, keep=keep: tuple(fn(x, dim=axis, keepdim=keep)),
                 [0], {"axis": axis, "keepdim": keep})
        # Exact ties: the first extreme along the axis wins and takes the whole gradient.
        name = op + "_ties"
        x = torch.tensor([[1, 3, 3, 0], [2, 2, 2, 2], [5, 1, 5, 5]], dtype=torch.float32)
        if op == "min":
            x = -x

        emit(wr, name, op, fam, [x], lambda x, fn=fn: tuple(fn(x, dim=1)), [0], {"axis": 1, "keepdim": False, "ties": True})
        _, idx = fn(x, dim=1)
        assert idx.tolist() == [1, 0, 0], (name, idx)

    # logsumexp: one row shifted by +100 (exp overflows float32) and one by -100 (underflows).
    name = "logsumexp_ax1"
    g = gen_for(name)
    x = randn(g, (4, 7))
    x[1] += 100.0
    x[2] -= 100.0
    emit(wr, name, "logsumexp", fam, [x], lambda x: torch.logsumexp(x, dim=1), [0], {"axis": 1, "keepdim": False})
    name = "logsumexp_ax0_keepdim"
    g = gen_for(name)
    x = randn(g, (5, 2, 3), 3.0)
    x[:, 0, 0] += 80.0
    emit(wr, name, "logsumexp", fam, [x], lambda x: torch.logsumexp(x, dim=0, keepdim=True), [0],
         {"axis": 0, "keepdim": True})
    name = "logsumexp_axm1"
    g = gen_for(name)
    emit(wr, name, "logsumexp", fam, [randn(g, (2, 3, 6))], lambda x: torch.logsumexp(x, dim=-1), [0],
         {"axis": -1, "keepdim": False})

    fam = "softmax"
    for op, fn in [("softmax", torch.softmax), ("log_softmax", torch.log_softmax)]:
        name = op + "_axm1"
        g = gen_for(name)
        x = randn(g, (4, 7), 2.0)
        x[1] += 100.0
        x[2] -= 100.0
        emit(wr, name, op, fam, [x], lambda x, fn=fn: fn(x, dim=-1), [0], {"axis": -1})
        name = op + "_ax1"
        g = gen_for(name)
        emit(wr, name, op, fam, [randn(g, (2, 5, 3), 2.0)], lambda x, fn=fn: fn(x, dim=1), [0], {"axis": 1})


def shape_ops(wr):
    fam = "shape"
    for name, shape, new in [("reshape_2d", (2, 3, 4), [4, 6]), ("reshape_infer", (2, 3, 4), [3, -1, 2]),
                             ("reshape_flat", (2, 3, 4), [24])]:
        g = gen_for(name)
        emit(wr, name, "reshape", fam, [randn(g, shape)], lambda x, new=new: x.reshape(new), [0], {"shape": new})
    for name, shape, perm in [("permute_3d", (2, 3, 4), [2, 0, 1]), ("permute_4d", (2, 3, 4, 5), [0, 2, 3, 1]),
                              ("permute_4d_rev", (2, 3, 4, 5), [3, 2, 1, 0])]:
        g = gen_for(name)
        emit(wr, name, "permute", fam, [randn(g, shape)], lambda x, perm=perm: x.permute(perm), [0], {"perm": perm})
    for name, shape, d0, d1 in [("transpose_2d", (3, 5), 0, 1), ("transpose_3d", (2, 3, 4), 0, 2),
                                ("transpose_neg", (2, 3, 4), -1, -2)]:
        g = gen_for(name)
        emit(wr, name, "transpose", fam, [randn(g, shape)], lambda x, d0=d0, d1=d1: x.transpose(d0, d1), [0],
             {"dim0": d0, "dim1": d1})
    for name, shape, axis, start, length in [("narrow_ax0", (5, 3), 0, 1, 3), ("narrow_ax1", (3, 5, 4), 1, 1, 2),
                                             ("narrow_axm1", (3, 5, 4), -1, 2, 2)]:
        g = gen_for(name)
        emit(wr, name, "narrow", fam, [randn(g, shape)],
             lambda x, a=axis, s=start, l=length: x.narrow(a, s, l), [0], {"axis": axis, "start": start, "length": length})
    for name, shape, axis, index in [("index_select_ax0", (4, 3), 0, [2, 0, 2, 1, 2]),
                                     ("index_select_ax1", (2, 5, 3), 1, [4, 4, 0]),
                                     ("index_select_axm1", (2, 3, 4), -1, [3, 0, 3, 3, 1, 0])]:
        g = gen_for(name)
        emit(wr, name, "index_select", fam, [randn(g, shape)],
             lambda x, a=axis, i=index: torch.index_select(x, a, torch.tensor(i)), [0], {"axis": axis, "index": index})
    for name, shapes, axis in [("cat_ax0", [(2, 3), (4, 3)], 0), ("cat_ax1", [(2, 3, 4), (2, 1, 4), (2, 2, 4)], 1),
                               ("cat_axm1", [(2, 3), (2, 1)], -1)]:
        g = gen_for(name)
        ins = [randn(g, s) for s in shapes]
        emit(wr, name, "cat", fam, ins, lambda *xs, a=axis: torch.cat(xs, dim=a), list(range(len(ins))), {"axis": axis})
    for name, axis in [("stack_ax0", 0), ("stack_ax2", 2), ("stack_ax1", 1)]:
        g = gen_for(name)
        ins = [randn(g, (2, 3)) for _ in range(3)]
        emit(wr, name, "stack", fam, ins, lambda *xs, a=axis: torch.stack(xs, dim=a), [0, 1, 2], {"axis": axis})
    for name, shape, to in [("expand_row", (4,), [3, 4]), ("expand_col", (3, 1), [2, 3, 4]),
                            ("expand_both", (2, 1, 4), [2, 3, 4]), ("expand_scalar", (), [2, 3])]:
        g = gen_for(name)
        emit(wr, name, "expand", fam, [randn(g, shape)], lambda x, to=to: x.expand(to).clone(), [0], {"shape": to})


def gemm(wr):
    fam = "gemm"
    for m, k, n in [(1, 1, 1), (5, 7, 3), (33, 65, 17), (128, 256, 64), (100, 900, 50)]:
        name = "matmul_%dx%dx%d" % (m, k, n)
        g = gen_for(name)
        emit(wr, name, "matmul", fam, [randn(g, (m, k)), randn(g, (k, n))], torch.matmul, [0, 1], {"m": m, "k": k, "n": n})
    for name, sa, sb in [("matmul_batched", (4, 5, 6), (4, 6, 7)), ("matmul_bcast", (2, 1, 5, 6), (3, 6, 4)),
                         ("matmul_batched_2d", (4, 5, 6), (6, 7)), ("matmul_2d_batched", (5, 6), (3, 6, 4))]:
        g = gen_for(name)
        emit(wr, name, "matmul", fam, [randn(g, sa), randn(g, sb)], torch.matmul, [0, 1])
    m, k, n = 13, 29, 11
    for ta in (False, True):
        for tb in (False, True):
            name = "matmul_t_%s%s" % ("t" if ta else "n", "t" if tb else "n")
            g = gen_for(name)
            a = randn(g, (k, m) if ta else (m, k))
            b = randn(g, (n, k) if tb else (k, n))
            emit(wr, name, "matmul_t", fam, [a, b],
                 lambda a, b, ta=ta, tb=tb: torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b),
                 [0, 1], {"transA": ta, "transB": tb})
    for ta, tb in [(True, True), (True, False), (False, True)]:
        name = "matmul_t_batched_%s%s" % ("t" if ta else "n", "t" if tb else "n")
        g = gen_for(name)
        a = randn(g, (3, 6, 5) if ta else (3, 5, 6))
        b = randn(g, (3, 4, 6) if tb else (3, 6, 4))
        emit(wr, name, "matmul_t", fam, [a, b],
             lambda a, b, ta=ta, tb=tb: torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b),
             [0, 1], {"transA": ta, "transB": tb})
    name = "linear"
    g = gen_for(name)
    emit(wr, name, "linear", fam, [randn(g, (6, 10)), randn(g, (4, 10)), randn(g, (4,))],
         lambda x, w, b: torch.nn.functional.linear(x, w, b), [0, 1, 2], {"bias": True})
    name = "linear_nobias"
    g = gen_for(name)
    emit(wr, name, "linear", fam, [randn(g, (7, 9)), randn(g, (5, 9))],
         lambda x, w: torch.nn.functional.linear(x, w), [0, 1], {"bias": False})
    name = "linear_big"
    g = gen_for(name)
    emit(wr, name, "linear", fam, [randn(g, (32, 100)), randn(g, (24, 100)), randn(g, (24,))],
         lambda x, w, b: torch.nn.functional.linear(x, w, b), [0, 1, 2], {"bias": True})


def main():
    ops = Writer(os.path.join(OUT_DIR, "ops.safetensors"))
    elementwise(ops)
    comparisons(ops)
    reductions(ops)
    shape_ops(ops)
    gm = Writer(os.path.join(OUT_DIR, "gemm.safetensors"))
    gemm(gm)
    for w in (ops, gm):
        size = w.write()
        print("%s: %d cases, %d tensors, %d bytes" % (os.path.relpath(w.path), len(w.meta), len(w.tensors), size))


if __name__ == "__main__":
    if not torch.__version__.startswith("1.13"):
        print("warning: committed files were made with torch 1.13, this is " + torch.__version__, file=sys.stderr)
    main()
