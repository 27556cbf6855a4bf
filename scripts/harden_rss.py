#!/usr/bin/env python3
"""Peak RSS of vmdls on the untrusted files of issue 21 (items 4, 5 and 6).

Crafts each file with the standard library only (zlib, zipfile, gzip), runs
the vmdls command that reads it under /usr/bin/time -v, and prints one row
per case: the file size, the peak resident set size, the exit status and
the error printed. The legitimate rows run the same commands on the real
data in ../shared/data, for comparison.

    python3 scripts/harden_rss.py [--bin PATH] [--work DIR] [--data DIR]

Without --bin it builds ./cmd/vmdls into the work folder first (run it from
the repository root). The work folder (default: a new temporary folder,
removed at the end unless --keep) needs about 300 MB of disk; the
safetensors case makes a 64 GiB sparse file, which takes no disk.
"""

import argparse
import gzip
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

MiB = 1 << 20
GiB = 1 << 30
ZEROS = bytes(16 * MiB)


def write_zeros(w, n):
    """Writes n zero bytes to the file-like w in 16 MiB pieces."""
    while n > 0:
        k = min(n, len(ZEROS))
        w.write(ZEROS[:k])
        n -= k


def npy_header(descr, shape):
    """An .npy v1.0 header of a C-order array, padded as NumPy pads it."""
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    d = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    pad = 64 - (10 + len(d) + 1) % 64
    d = d + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode()


def omniglot_npz(path, chars=1, labels=None, labels_shape=None, label_zeros=0):
    """An Omniglot npz: images.npy bool (chars, 20, 105, 105) and labels.npy
    int64. labels: the label values (default: the character index of each
    image); labels_shape with label_zeros instead writes a labels member of
    that declared shape holding label_zeros zero bytes (a real, compressible
    payload of that size)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("images.npy", "w", force_zip64=True) as w:
            w.write(npy_header("|b1", (chars, 20, 105, 105)))
            write_zeros(w, chars * 20 * 105 * 105)
        with z.open("labels.npy", "w", force_zip64=True) as w:
            if labels_shape is not None:
                w.write(npy_header("<i8", labels_shape))
                write_zeros(w, label_zeros)
            else:
                if labels is None:
                    labels = [i // 20 for i in range(chars * 20)]
                w.write(npy_header("<i8", (chars, 20)))
                w.write(struct.pack("<%dq" % len(labels), *labels))


def png_chunk(typ, data):
    c = typ + data
    return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)


def png_header(w, h, color=0):
    """PNG signature and IHDR (8-bit, colour type color), no pixel data."""
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))


def png_file(path, w, h):
    """A complete, valid w x h RGB PNG of black pixels."""
    comp = zlib.compressobj(9)
    row = bytes(1 + 3 * w)  # filter byte 0 and the row's pixels
    idat = bytearray()
    for _ in range(h):
        idat += comp.compress(row)
    idat += comp.flush()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(png_header(w, h, color=2))
        f.write(png_chunk(b"IDAT", bytes(idat)))
        f.write(png_chunk(b"IEND", b""))


def omniglot_zip(path, entries, entry_bytes, png_prefix):
    """An original-layout Omniglot zip (images_background/ALPHABET/CHAR/N.png)
    of entries members, each entry_bytes long: a 105x105 PNG header, when
    png_prefix, then zeros."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    head = png_header(105, 105) if png_prefix else b""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for i in range(entries):
            with z.open("images_background/Alphabet/character01/%02d.png" % i, "w", force_zip64=True) as w:
                w.write(head)
                write_zeros(w, entry_bytes - len(head))


class Zeros:
    """A file-like object of n zero bytes, after head, for tarfile."""

    def __init__(self, head, n):
        self.head, self.left = head, n

    def read(self, k=-1):
        if k < 0:
            k = self.left
        out = self.head[:k]
        self.head = self.head[len(out):]
        z = min(k - len(out), self.left - len(out), len(ZEROS))
        self.left -= len(out) + max(z, 0)
        return out + ZEROS[:max(z, 0)]


def lsun_tgz(path, entries, entry_bytes):
    """An ODIN-layout tarball (LSUN/test/N.png) of entries members, each a
    32x32 PNG header followed by zeros up to entry_bytes."""
    import tarfile
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tarfile.open(path, "w:gz", compresslevel=9) as t:
        for i in range(entries):
            ti = tarfile.TarInfo("LSUN/test/%02d.png" % i)
            ti.size = entry_bytes
            t.addfile(ti, Zeros(png_header(32, 32), entry_bytes))


def idx_gz(path, dims, payload):
    """A gzipped IDX file of unsigned bytes: its header declares dims, and
    payload zero bytes follow."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with gzip.open(path, "wb", compresslevel=9) as w:
        w.write(struct.pack(">BBBB", 0, 0, 8, len(dims)) + b"".join(struct.pack(">I", d) for d in dims))
        write_zeros(w, payload)


def safetensors_sparse_tail(path, tail):
    """A valid one-tensor safetensors file followed by a tail-byte hole."""
    header = b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + bytes(8))
        f.truncate(8 + len(header) + 8 + tail)


def run(bin_path, args):
    """Runs bin_path args under /usr/bin/time -v; returns (exit status, peak
    RSS in bytes, the error line vmdls printed)."""
    p = subprocess.run(["/usr/bin/time", "-v", bin_path] + args, capture_output=True, text=True, timeout=1200)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    st = re.search(r"Exit status: (\d+)", p.stderr)
    rss = int(m.group(1)) * 1024 if m else -1
    code = int(st.group(1)) if st else p.returncode
    errs = [l for l in p.stderr.splitlines() if l.startswith("vmdls:")]
    msg = errs[-1] if errs else "(no error) " + " | ".join(p.stdout.strip().splitlines()[:2])
    return code, rss, msg


def human(n):
    if n < 0:
        return "?"
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return "%.1f %s" % (n / size, unit)
    return "%d B" % n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="vmdls binary (default: go build ./cmd/vmdls)")
    ap.add_argument("--work", help="folder for the crafted files (default: a new temporary folder)")
    ap.add_argument("--data", default=os.path.join("..", "shared", "data"), help="the real data, for the legitimate rows")
    ap.add_argument("--keep", action="store_true", help="keep the crafted files")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="harden-rss-")
    os.makedirs(work, exist_ok=True)
    bin_path = a.bin
    if not bin_path:
        bin_path = os.path.join(work, "vmdls")
        env = dict(os.environ, GOFLAGS="-buildvcs=false")
        subprocess.run(["go", "build", "-o", bin_path, "./cmd/vmdls"], check=True, env=env)

    def d(name):
        return os.path.join(work, name)

    cases = []  # (case, files, args)

    # Item 5, npz: labels declaring 1 GiB (a real 1 GiB of zeros, deflated
    # to about 1 MB) beside a valid one-character images member.
    omniglot_npz(d("npz-labels-1g/omniglot/images_background.npz"), labels_shape=(GiB // 8,), label_zeros=GiB)
    cases.append(("5 npz labels declaring 1 GiB", d("npz-labels-1g/omniglot/images_background.npz"),
                  ["data", "info", "--dataset", "omniglot", "--data_dir", d("npz-labels-1g")]))

    # Item 5, zip: 4 x 250 MiB entries. (a) zeros: not images; (b) each a
    # valid 105x105 PNG header followed by 250 MiB of zeros, which passes a
    # header check.
    omniglot_zip(d("zip-4x250/omniglot/images_background.zip"), 4, 250 * MiB, False)
    cases.append(("5 zip 4 x 250 MiB (zeros)", d("zip-4x250/omniglot/images_background.zip"),
                  ["data", "info", "--dataset", "omniglot", "--data_dir", d("zip-4x250")]))
    omniglot_zip(d("zip-4x250-png/omniglot/images_background.zip"), 4, 250 * MiB, True)
    cases.append(("5 zip 4 x 250 MiB (PNG headers)", d("zip-4x250-png/omniglot/images_background.zip"),
                  ["data", "info", "--dataset", "omniglot", "--data_dir", d("zip-4x250-png")]))

    # The same four entries as an ODIN tarball (openset/LSUN.tar.gz).
    lsun_tgz(d("tgz-4x250-png/openset/LSUN.tar.gz"), 4, 250 * MiB)
    cases.append(("5 tar.gz 4 x 250 MiB (PNG headers)", d("tgz-4x250-png/openset/LSUN.tar.gz"),
                  ["data", "info", "--dataset", "lsun-crop", "--data_dir", d("tgz-4x250-png")]))

    # Item 5, images: an 8000x8000 PNG in an ODIN folder dataset.
    for name in ("a.png", "b.png"):
        png_file(d("png-8000/openset/LSUN/test/" + name), 32, 32)
    png_file(d("png-8000/openset/LSUN/test/big.png"), 8000, 8000)
    for sub in ("verify", "info"):
        args = ["data", "verify", "lsun-crop"] if sub == "verify" else ["data", "info", "--dataset", "lsun-crop"]
        cases.append(("5 PNG 8000x8000 (data %s)" % sub, d("png-8000/openset/LSUN/test/big.png"),
                      args + ["--data_dir", d("png-8000")]))

    # Item 5, IDX: a gzipped image file with a real 1 GiB payload (1369568
    # images of 28x28, about 1 MB compressed). (a) with MNIST's 60000
    # labels; (b) with as many labels as images.
    n = GiB // 784
    for tag, labels in (("60000 labels", 60000), ("%d labels" % n, n)):
        root = d("idx-1g-%d" % labels)
        idx_gz(os.path.join(root, "mnist/train-images-idx3-ubyte.gz"), (n, 28, 28), n * 784)
        idx_gz(os.path.join(root, "mnist/train-labels-idx1-ubyte.gz"), (labels,), labels)
        idx_gz(os.path.join(root, "mnist/t10k-images-idx3-ubyte.gz"), (10, 28, 28), 10 * 784)
        idx_gz(os.path.join(root, "mnist/t10k-labels-idx1-ubyte.gz"), (10,), 10)
        cases.append(("5 IDX .gz 1 GiB payload, " + tag, os.path.join(root, "mnist/train-images-idx3-ubyte.gz"),
                      ["data", "info", "--dataset", "mnist", "--data_dir", root]))

    # Item 4: a valid safetensors header and a 64 GiB sparse tail.
    st = d("sparse.safetensors")
    safetensors_sparse_tail(st, 64 * GiB)
    cases.append(("4 safetensors + 64 GiB sparse tail (info)", st, ["info", "--checkpoint", st]))
    cases.append(("4 safetensors + 64 GiB sparse tail (test)", st,
                  ["test", "--checkpoint_path", st, "--enc_type", "mnist-conv", "--known_dataset", "mnist",
                   "--enc_out_dim", "500", "--latent_dim", "32", "--unknown_dataset", "omniglot",
                   "--data_dir", a.data, "--output_dir", d("test-out")]))

    # Item 6: Omniglot labels of 2^27 and of -1.
    for tag, bad in (("2^27", 1 << 27), ("-1", -1)):
        root = d("label-%s" % tag.replace("^", ""))
        omniglot_npz(os.path.join(root, "omniglot/images_background.npz"), labels=[0] * 19 + [bad])
        cases.append(("6 Omniglot label " + tag, os.path.join(root, "omniglot/images_background.npz"),
                      ["data", "info", "--dataset", "omniglot", "--data_dir", root]))

    # The legitimate data, for comparison.
    legit = [
        ("legit Omniglot npz (data info)", os.path.join(a.data, "omniglot/images_background.npz"),
         ["data", "info", "--dataset", "omniglot", "--data_dir", a.data]),
        ("legit MNIST (data info)", os.path.join(a.data, "mnist/train-images-idx3-ubyte.gz"),
         ["data", "info", "--dataset", "mnist", "--data_dir", a.data]),
        ("legit CIFAR-10 JPEG tar (data info)", os.path.join(a.data, "cifar10-jpeg/train.tar"),
         ["data", "info", "--dataset", "cifar10", "--data_dir", a.data]),
    ]

    print("| case | command | file size | peak RSS | exit | error printed |")
    print("|---|---|---|---|---|---|")
    for case, path, args in cases + legit:
        size = os.stat(path).st_size if os.path.exists(path) else -1
        code, rss, msg = run(bin_path, args)
        shown = " ".join(x if not x.startswith(work) else x.replace(work, "$W") for x in args)
        msg = msg.replace(work, "$W")
        if len(msg) > 300:
            msg = msg[:300] + "..."
        print("| %s | vmdls %s | %s | %s | %d | %s |" % (case, shown, human(size), human(rss), code, msg.replace("|", "\\|")))
        sys.stdout.flush()
    if not a.keep and not a.work:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
