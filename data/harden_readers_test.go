package data

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Regression tests for readers fed untrusted files (issue 21): shapes whose
// size overflows, declared sizes larger than the bytes present, decompression
// that amplifies within the caps, labels out of range. Every crafted input
// is written by the test itself.

// allocated returns the bytes f allocates on the Go heap. It is how these
// tests bound memory: a reader that allocates by a lying header, or grows a
// buffer by doubling, shows up here. Tests in this package do not run in
// parallel with it, so the count is f's (plus a little runtime noise).
func allocated(f func()) int64 {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return int64(b.TotalAlloc - a.TotalAlloc)
}

// npyDict is the header dict of a C-order array.
func npyDict(descr, shape string) string {
	return fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
}

// zipOf builds a deflated zip of members given as name, data pairs.
func zipOf(t testing.TB, members ...any) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := 0; i < len(members); i += 2 {
		w, err := zw.Create(members[i].(string))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(members[i+1].([]byte))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// omniglotNPZ is a valid miniature Omniglot npz of c characters.
func omniglotNPZ(t testing.TB, c int) []byte {
	lab := make([]byte, 8*c*20)
	for i := 0; i < c*20; i++ {
		binary.LittleEndian.PutUint64(lab[8*i:], uint64(i/20))
	}
	return zipOf(t,
		"images.npy", npyBytes(npyDict("|b1", fmt.Sprintf("(%d, 20, 105, 105)", c)), make([]byte, c*20*105*105)),
		"labels.npy", npyBytes(npyDict("<i8", fmt.Sprintf("(%d, 20)", c)), lab))
}

// Item 2: a shape whose byte size overflows int64 was multiplied before it
// was compared, so (2^32, 2^31) of |u1 wrapped to -2^63, passed, and
// panicked with slice bounds out of range.
func TestHardenNPYShapeOverflow(t *testing.T) {
	shapes := []string{
		"(4294967296, 2147483648)", // the case: 2^63 wraps negative
		"(2147483648, 4294967296)",
		"(4294967296, 4294967296, 4294967296)",
		"(1099511627776, 1099511627776)",
		"(65536, 65536, 65536, 65536)",      // 2^64 wraps to exactly 0
		"(0, 1099511627776, 1099511627776)", // product 0, but Shape[1]*Shape[2] overflows
		"(1099511627776, 1099511627776, 0)",
	}
	for _, shape := range shapes {
		b := npyBytes(npyDict("|u1", shape), make([]byte, 16))
		_, err := ReadNPY(bytes.NewReader(b), "o.npy")
		wantFormatErr(t, err, "o.npy", "announces more than")
		zb := zipOf(t, "a.npy", b)
		z, err := NewNPZ(bytes.NewReader(zb), int64(len(zb)), "o.npz")
		if err != nil {
			t.Fatal(err)
		}
		_, err = z.Read("a")
		wantFormatErr(t, err, "o.npz:a.npy", "announces more than")
		_, err = z.Header("a")
		wantFormatErr(t, err, "o.npz:a.npy", "announces more than")
	}
	// The same through the Omniglot reader, which train, test and data
	// info use: in the labels (read first) and in the images.
	dir := t.TempDir()
	good := omniglotNPZ(t, 1)
	zr, _ := zip.NewReader(bytes.NewReader(good), int64(len(good)))
	members := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		members[f.Name] = b.Bytes()
	}
	for _, bad := range []string{"labels.npy", "images.npy"} {
		m := map[string][]byte{"labels.npy": members["labels.npy"], "images.npy": members["images.npy"]}
		m[bad] = npyBytes(npyDict("|u1", "(4294967296, 2147483648)"), make([]byte, 16))
		p := writeFile(t, dir, strings.TrimSuffix(bad, ".npy")+".npz", zipOf(t, "labels.npy", m["labels.npy"], "images.npy", m["images.npy"]))
		_, _, _, err := ReadOmniglotNPZ(p, 0)
		wantFormatErr(t, err, p+":"+bad, "announces more than")
	}
	if _, _, n, err := ReadOmniglotNPZ(writeFile(t, dir, "good.npz", good), 0); err != nil || n != 20 {
		t.Fatalf("valid miniature Omniglot npz: %d images, %v", n, err)
	}

	// IDX dims are 31-bit, but a zero dimension hid absurd others.
	_, err := ReadIDX(bytes.NewReader(idxBytes(0x08, []int{0, 1<<31 - 1, 1<<31 - 1}, nil)), "zero.idx")
	wantFormatErr(t, err, "zero.idx", "announces more than")

	// Headers built by hand: Numel reports overflow instead of wrapping,
	// and Int64s refuses data that does not match the shape.
	if n := (&NPYHeader{Descr: "|u1", Shape: []int{1 << 62, 4}}).Numel(); n != -1 {
		t.Errorf("Numel of an overflowing shape = %d, want -1", n)
	}
	if _, err := (&NPY{NPYHeader: NPYHeader{Descr: "<i8", Shape: []int{4}}, Data: make([]byte, 8)}).Int64s(); err == nil {
		t.Error("Int64s accepted 8 data bytes for 4 int64s")
	}
}

// Item 5, npz: the labels were read whole before any check, so an npz of
// 1.1 MB declaring 1 GiB of labels took 4 GB. Declared sizes are now checked
// against the zip entry before reading, the header can be read alone, and
// Read holds exactly the array, not a doubled buffer.
func TestHardenNPZDeclaredSizes(t *testing.T) {
	// The npy header declares 1 GiB but the member holds 16 bytes: refused
	// at Open, before a byte of data is read.
	lie := zipOf(t, "labels.npy", npyBytes(npyDict("<i8", "(134217728,)"), make([]byte, 16)))
	z, err := NewNPZ(bytes.NewReader(lie), int64(len(lie)), "lie.npz")
	if err != nil {
		t.Fatal(err)
	}
	var rerr error
	if n := allocated(func() { _, rerr = z.Read("labels") }); n > 1<<20 {
		t.Errorf("reading a 1 GiB label header over 16 bytes allocated %d bytes", n)
	}
	wantFormatErr(t, rerr, "lie.npz:labels.npy", "shorter than its header")
	long := zipOf(t, "labels.npy", npyBytes(npyDict("<i8", "(1,)"), make([]byte, 24)))
	z, _ = NewNPZ(bytes.NewReader(long), int64(len(long)), "long.npz")
	_, err = z.Header("labels")
	wantFormatErr(t, err, "long.npz:labels.npy", "more data than its header")

	// A zip directory declaring more than deflate can expand its data to.
	comp := deflated(t, npyBytes(npyDict("<i8", "(1,)"), make([]byte, 8)))
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "labels.npy", Method: zip.Deflate, CompressedSize64: uint64(len(comp)), UncompressedSize64: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp)
	zw.Close()
	z, _ = NewNPZ(bytes.NewReader(zb.Bytes()), int64(zb.Len()), "ratio.npz")
	_, err = z.Read("labels")
	wantFormatErr(t, err, "ratio.npz:labels.npy", "can expand to")

	// A genuine 64 MiB label array (compressed to about 64 KB): its header
	// is read without its data, which is what lets a caller check it
	// against the images first, and Read allocates it once.
	const big = 64 << 20
	real := zipOf(t, "labels.npy", npyBytes(npyDict("<i8", fmt.Sprintf("(%d, 2)", big/16)), make([]byte, big)))
	z, _ = NewNPZ(bytes.NewReader(real), int64(len(real)), "real.npz")
	var h *NPYHeader
	if n := allocated(func() { h, err = z.Header("labels") }); err != nil || n > 1<<20 || h.Numel() != big/8 {
		t.Errorf("Header: %v, %d elements, %d bytes allocated", err, h.Numel(), n)
	}
	var a *NPY
	if n := allocated(func() { a, err = z.Read("labels") }); err != nil || n > big*13/10 {
		t.Errorf("Read of %d bytes allocated %d (want under 1.3x), err %v", big, n, err)
	}
	if len(a.Data) != big || cap(a.Data) != big {
		t.Errorf("Read holds %d bytes in a %d-byte buffer, want exactly %d", len(a.Data), cap(a.Data), big)
	}
}

// deflated returns b compressed as a raw deflate stream (a zip entry's).
func deflated(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	fw, _ := flate.NewWriter(&out, flate.BestCompression)
	fw.Write(b)
	fw.Close()
	return out.Bytes()
}

// TestHardenZipSizeChecks checks checkZipSizes on directory entries that
// cannot be true of their archive.
func TestHardenZipSizeChecks(t *testing.T) {
	cases := []struct {
		fh      zip.FileHeader
		problem string
	}{
		{zip.FileHeader{Method: zip.Deflate, CompressedSize64: 2000, UncompressedSize64: 10}, "compressed bytes in a 1000-byte archive"},
		{zip.FileHeader{Method: zip.Store, CompressedSize64: 10, UncompressedSize64: 11}, "stored (uncompressed) entry declares 11 bytes"},
		{zip.FileHeader{Method: zip.Deflate, CompressedSize64: 100, UncompressedSize64: 100*maxDeflateRatio + deflateSlack + 1}, "can expand to"},
		{zip.FileHeader{Method: zip.Deflate, CompressedSize64: 100, UncompressedSize64: 100*maxDeflateRatio + deflateSlack}, ""},
		{zip.FileHeader{Method: zip.Store, CompressedSize64: 10, UncompressedSize64: 10}, ""},
	}
	for _, c := range cases {
		err := checkZipSizes(&zip.File{FileHeader: c.fh}, 1000, "a.zip:m")
		if c.problem == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.fh, err)
			}
			continue
		}
		wantFormatErr(t, err, "a.zip:m", c.problem)
	}
	// Real deflate never comes near the bound: a zip of zeros compressed
	// as hard as possible.
	zeros := deflated(t, make([]byte, 64<<20))
	if r := float64(64<<20) / float64(len(zeros)); r > maxDeflateRatio {
		t.Errorf("deflate expanded %.0f times, over the %d bound", r, maxDeflateRatio)
	}
}

// Item 5, archives: a zip of 4 x 250 MiB entries (980 KB) took 1.3 GB, every
// entry read by a doubling buffer. Declared sizes are now checked, all of
// them, before any entry is read; each entry is read into exactly its size
// and handed on before the next is read.
func TestHardenArchiveAmplification(t *testing.T) {
	dir := t.TempDir()
	const entry = 16 << 20
	zp := writeFile(t, dir, "four.zip", zipOf(t, "c/0.png", make([]byte, entry), "c/1.png", make([]byte, entry), "c/2.png", make([]byte, entry), "c/3.png", make([]byte, entry)))
	calls := 0
	var werr error
	n := allocated(func() {
		werr = WalkArchive(zp, nil, func(name string, b []byte) error {
			if len(b) != entry || cap(b) != entry {
				t.Errorf("%s: %d bytes in a %d-byte buffer, want exactly %d", name, len(b), cap(b), entry)
			}
			calls++
			return nil
		})
	})
	if werr != nil || calls != 4 {
		t.Fatalf("walk: %d entries, %v", calls, werr)
	}
	if n > 4*entry*13/10 {
		t.Errorf("walking 4 x %d bytes allocated %d (want under 1.3x)", entry, n)
	}

	// Past MaxArchiveBytes by the declarations alone: refused before the
	// first entry is read.
	old := MaxArchiveBytes
	MaxArchiveBytes = 3 * entry
	calls = 0
	n = allocated(func() { werr = WalkArchive(zp, nil, func(string, []byte) error { calls++; return nil }) })
	MaxArchiveBytes = old
	wantFormatErr(t, werr, "four.zip", "archive expands to more than")
	if calls != 0 || n > 1<<20 {
		t.Errorf("over-limit archive: %d entries read, %d bytes allocated before the refusal", calls, n)
	}

	// A tar.gz whose member declares 200 MiB in a 1 KB file: deflate
	// cannot expand that far, refused before reading.
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "c/x.png", Size: 200 << 20, Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write(make([]byte, 1000))
	tp := writeFile(t, dir, "lie.tar.gz", gz(tb.Bytes()))
	n = allocated(func() { werr = WalkArchive(tp, nil, func(string, []byte) error { return nil }) })
	wantFormatErr(t, werr, "lie.tar.gz:c/x.png", "can expand to")
	if n > 1<<20 {
		t.Errorf("refusing a lying tar.gz allocated %d bytes", n)
	}
	// The same stream whose length is unknown (WalkTar): the buffer grows
	// with what arrives, not with the declaration.
	n = allocated(func() {
		werr = WalkTar(bytes.NewReader(gz(tb.Bytes())), "lie.tgz", nil, func(string, []byte) error { return nil })
	})
	wantFormatErr(t, werr, "lie.tgz:c/x.png", "truncated")
	if n > 8<<20 {
		t.Errorf("a 200 MiB tar header over 1000 bytes allocated %d bytes", n)
	}
}

// Item 5, image archives: each entry of the 4 x 250 MiB zip can be a valid
// PNG header followed by zeros, which passes the header check at open, so
// the whole expansion was read and held (996 KB -> 1.1 GB RSS). An image
// folder in a zip or tar.gz is now refused, from the declared sizes and
// before any image is read, when its images declare more than
// maxImageExpansion times the archive's size (plus the slack).
func TestHardenImageArchiveExpansion(t *testing.T) {
	dir := t.TempDir()
	const entry = 12 << 20
	bomb := func() []byte {
		b := make([]byte, entry)
		copy(b, pngHeader(105, 105))
		return b
	}
	var members []any
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for i := range 4 {
		name := fmt.Sprintf("c/%d.png", i)
		members = append(members, name, bomb())
		tw.WriteHeader(&tar.Header{Name: name, Size: entry, Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(bomb())
	}
	tw.Close()
	for name, b := range map[string][]byte{"bomb.zip": zipOf(t, members...), "bomb.tar.gz": gz(tb.Bytes())} {
		p := writeFile(t, dir, name, b)
		for _, policy := range []BadImages{BadImagesFail, BadImagesSkip} {
			var err error
			n := allocated(func() { _, err = OpenFolder(p, FolderOptions{BadImages: policy, Log: io.Discard}) })
			wantFormatErr(t, err, p, "images do not compress that far")
			// A zip declares every size up front: refused before reading.
			// A tar.gz declares each member as it comes: the members within
			// the bound may be read before the one past it is refused.
			limit := int64(2 << 20)
			if strings.HasSuffix(name, ".tar.gz") {
				limit = expansionBound(int64(len(b)), maxImageExpansion)*9/8 + 2<<20
			}
			if n > limit {
				t.Errorf("%s (%v): refusing allocated %d bytes, want at most %d", name, policy, n, limit)
			}
		}
		// The generic walker keeps the plain limits: its callers (CIFAR's
		// binary batches) hold data, not images.
		if err := WalkArchive(p, nil, func(string, []byte) error { return nil }); err != nil {
			t.Errorf("WalkArchive %s: %v", name, err)
		}
	}
	// Real images barely compress: a zip and a tar.gz of noise PNGs open.
	var good []any
	var gt bytes.Buffer
	gw := tar.NewWriter(&gt)
	for i := range 3 {
		img := noisePNG(t, 64, 64, i+1)
		name := fmt.Sprintf("c/%d.png", i)
		good = append(good, name, img)
		gw.WriteHeader(&tar.Header{Name: name, Size: int64(len(img)), Mode: 0o644, Typeflag: tar.TypeReg})
		gw.Write(img)
	}
	gw.Close()
	for name, b := range map[string][]byte{"good.zip": zipOf(t, good...), "good.tar.gz": gz(gt.Bytes())} {
		if f, err := OpenFolder(writeFile(t, dir, name, b), FolderOptions{}); err != nil || f.Len() != 3 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := expansionBound(1<<62, maxImageExpansion); got != math.MaxInt64 {
		t.Errorf("expansionBound does not saturate: %d", got)
	}
}

// Item 5, IDX: a gzipped image file of 1 MB can hold a true 1 GiB of zeros
// whose labels match, which no check of declared against present bytes
// catches. The MNIST-style sets are checked against what their splits
// hold (60,000 and 10,000 images of 28x28) from the headers, first.
func TestHardenIDXNamedCounts(t *testing.T) {
	for _, c := range []struct {
		dims []int
		want string
	}{
		{[]int{10001, 28, 28}, "10001 images of 28x28: mnist test holds at most 10000 images of 28x28"},
		{[]int{10, 29, 28}, "10 images of 28x29: mnist test holds at most 10000 images of 28x28"},
	} {
		dir := t.TempDir()
		n := c.dims[0]
		os.MkdirAll(filepath.Join(dir, "mnist"), 0o755)
		img := writeFile(t, filepath.Join(dir, "mnist"), "t10k-images-idx3-ubyte.gz", gz(idxBytes(0x08, c.dims, make([]byte, n*c.dims[1]*c.dims[2]))))
		writeFile(t, filepath.Join(dir, "mnist"), "t10k-labels-idx1-ubyte.gz", gz(idxBytes(0x08, []int{n}, make([]byte, n))))
		var err error
		if a := allocated(func() { _, err = Open("mnist", Test, Options{Dir: dir}) }); a > 1<<20 {
			t.Errorf("%v: refusing allocated %d bytes", c.dims, a)
		}
		wantFormatErr(t, err, img, c.want)
	}
	// The split's own size passes, and ReadIDXDataset, which reads any IDX
	// pair, has no such bound.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "mnist"), 0o755)
	writeFile(t, filepath.Join(dir, "mnist"), "t10k-images-idx3-ubyte.gz", gz(idxBytes(0x08, []int{10000, 28, 28}, make([]byte, 10000*784))))
	writeFile(t, filepath.Join(dir, "mnist"), "t10k-labels-idx1-ubyte.gz", gz(idxBytes(0x08, []int{10000}, make([]byte, 10000))))
	if s, err := Open("mnist", Test, Options{Dir: dir}); err != nil || s.Len() != 10000 {
		t.Fatalf("10000 images of 28x28: %v", err)
	}
	big := writeFile(t, dir, "big-images", idxBytes(0x08, []int{3, 40, 40}, make([]byte, 3*1600)))
	biglab := writeFile(t, dir, "big-labels", idxBytes(0x08, []int{3}, make([]byte, 3)))
	if m, _, err := ReadIDXDataset(big, biglab); err != nil || m.H != 40 {
		t.Fatalf("ReadIDXDataset of 40x40 images: %v", err)
	}
}

// pngHeader is a PNG signature, an IHDR chunk (8-bit gray) with a valid
// CRC announcing w x h, and IEND: all DecodeConfig needs.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := append([]byte(typ), data...)
		b.Write(c)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(c))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8 // bit depth; colour type 0 (gray), no interlace
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return b.Bytes()
}

// Item 5, images: an 8000x8000 PNG (1.2 MB) decoded to 1.5 GB. The header
// is checked first and 4096x4096 is the default limit.
func TestHardenImageDimensions(t *testing.T) {
	for _, c := range []struct{ w, h uint32 }{{8000, 8000}, {4097, 4096}, {1<<31 - 1, 2}, {16777217, 1}} {
		name := fmt.Sprintf("%dx%d.png", c.w, c.h)
		var err error
		if n := allocated(func() { _, err = DecodeImage(pngHeader(c.w, c.h), name, 3) }); n > 1<<20 {
			t.Errorf("%s: refusing allocated %d bytes", name, n)
		}
		wantFormatErr(t, err, name, "pixel limit")
	}
	// At the limit the size passes; this header has no pixel data, so the
	// decode itself fails, for that reason.
	_, err := DecodeImage(pngHeader(4096, 4096), "max.png", 1)
	wantFormatErr(t, err, "max.png", "corrupt image")
	if strings.Contains(err.Error(), "pixel limit") {
		t.Errorf("4096x4096 refused by size: %v", err)
	}
}

// Item 5, IDX: an IDX .gz with a 1 GiB payload (1 MB) took 2.1 GB. Sizes
// are checked against the file before reading, and the payload is read
// into exactly its size.
func TestHardenIDXDeclaredSizes(t *testing.T) {
	dir := t.TempDir()
	var err error
	// Raw: the header announces 822 MB, the file holds 100 bytes.
	raw := writeFile(t, dir, "raw-idx3-ubyte", idxBytes(0x08, []int{1 << 20, 28, 28}, make([]byte, 100)))
	if n := allocated(func() { _, err = ReadIDXFile(raw) }); n > 1<<20 {
		t.Errorf("raw IDX with a lying header allocated %d bytes", n)
	}
	wantFormatErr(t, err, raw, "need 822083584 bytes of data, file has 100")
	_, err = ReadIDXFileHeader(raw)
	wantFormatErr(t, err, raw, "need 822083584 bytes of data, file has 100")
	long := writeFile(t, dir, "long-idx1-ubyte", idxBytes(0x08, []int{2}, make([]byte, 3)))
	_, err = ReadIDXFile(long)
	wantFormatErr(t, err, long, "file has more")

	// Gzipped: 1 GiB announced in a file deflate cannot expand that far.
	small := writeFile(t, dir, "small.gz", gz(idxBytes(0x08, []int{1 << 30}, make([]byte, 1000))))
	if n := allocated(func() { _, err = ReadIDXFile(small) }); n > 1<<20 {
		t.Errorf("gzipped IDX with a lying header allocated %d bytes", n)
	}
	wantFormatErr(t, err, small, "more than a")

	// A stream of unknown length announcing 1 GiB and holding 1 MiB: the
	// buffer grows with what arrives.
	stream := gz(idxBytes(0x08, []int{1 << 30}, make([]byte, 1<<20)))
	if n := allocated(func() { _, err = ReadIDX(bytes.NewReader(stream), "stream.gz") }); n > 8<<20 {
		t.Errorf("a 1 GiB IDX header over 1 MiB allocated %d bytes", n)
	}
	wantFormatErr(t, err, "stream.gz", "file has 1048576")

	// A true 32 MiB payload is held once, not in a doubled buffer.
	const payload = 32 << 20
	okp := writeFile(t, dir, "ok.gz", gz(idxBytes(0x08, []int{payload / 784, 28, 28}, make([]byte, payload/784*784))))
	var x *IDX
	if n := allocated(func() { x, err = ReadIDXFile(okp) }); err != nil || n > payload*13/10 {
		t.Errorf("reading a %d-byte payload allocated %d (want under 1.3x), err %v", payload, n, err)
	}
	if len(x.Data) != cap(x.Data) || len(x.Data) != payload/784*784 {
		t.Errorf("payload of %d bytes in a %d-byte buffer", len(x.Data), cap(x.Data))
	}
	// Its header alone, for checking against the labels before reading.
	if n := allocated(func() { x, err = ReadIDXFileHeader(okp) }); err != nil || n > 1<<20 || x.Data != nil || x.Count() != payload/784 || x.ItemSize() != 784 {
		t.Errorf("ReadIDXFileHeader: %v, %d bytes allocated", err, n)
	}
}

// TestHardenReadSized checks the growth policy the readers share.
func TestHardenReadSized(t *testing.T) {
	for _, c := range []struct {
		have, size int
		more       bool
	}{{0, 0, false}, {5, 5, false}, {6, 5, true}, {3, 5, false}, {3 << 20, 3 << 20, false}, {1 << 20, 1 << 30, false}, {10<<20 + 1, 10 << 20, true}, {5 << 20, 33 << 20, false}, {5 << 20, 40 << 20, false}, {100, 3 << 20, false}} {
		var b []byte
		var got int64
		var more bool
		var err error
		in := make([]byte, c.have)
		n := allocated(func() { b, got, more, err = readSized(bytes.NewReader(in), int64(c.size)) })
		if err != nil || got != int64(min(c.have, c.size)) || more != c.more || (c.have >= c.size) != (b != nil) {
			t.Errorf("have %d size %d: got %d bytes (slice %v), more %v, %v", c.have, c.size, got, b != nil, more, err)
		}
		if b != nil && (len(b) != c.size || cap(b) != c.size) {
			t.Errorf("have %d size %d: %d bytes in a %d-byte slice", c.have, c.size, len(b), cap(b))
		}
		// A lie costs at most nine times what arrives (1 MiB at least),
		// the truth 1.125 times its size in all.
		bound := int64(c.size)*9/8 + 1<<16
		if c.have < c.size {
			bound = max(9*int64(c.have), 1<<20) + 1<<20 + 1<<16
		}
		if n > bound {
			t.Errorf("have %d size %d: allocated %d, want at most %d", c.have, c.size, n, bound)
		}
	}
	if _, _, _, err := readSized(bytes.NewReader(nil), -1); err == nil {
		t.Error("negative size accepted")
	}
}

// Item 6: ClassCounts grew its counts to the largest label, so a label of
// -1 panicked data info and one of 2^27 took 3.4 GB.
func TestHardenClassCounts(t *testing.T) {
	neg := &Memory{Labels: []int{0, -1, 2}}
	if c := ClassCounts(neg); fmt.Sprint(c) != "[1 0 1]" {
		t.Errorf("ClassCounts with a -1 label = %v, want [1 0 1] (the -1 not counted)", c)
	}
	_, err := ClassCountsChecked(neg, 3)
	if err == nil || !strings.Contains(err.Error(), "item 1 has label -1") {
		t.Errorf("ClassCountsChecked with a -1 label: %v", err)
	}
	huge := &Memory{Labels: []int{3, 1 << 27}}
	var c []int
	if n := allocated(func() { c = ClassCounts(huge) }); n > 1<<20 || fmt.Sprint(c) != "[0 0 0 1]" {
		t.Errorf("ClassCounts with a 2^27 label = %v, %d bytes allocated", c, n)
	}
	for _, cn := range []int{10, 0} {
		var err error
		if n := allocated(func() { _, err = ClassCountsChecked(huge, cn) }); n > 1<<20 {
			t.Errorf("ClassCountsChecked(%d) allocated %d bytes", cn, n)
		}
		if err == nil || !strings.Contains(err.Error(), "item 1 has label 134217728") {
			t.Errorf("ClassCountsChecked(%d) with a 2^27 label: %v", cn, err)
		}
	}
	ok := &Memory{Labels: []int{0, 1, 1, 3}}
	if c, err := ClassCountsChecked(ok, 5); err != nil || fmt.Sprint(c) != "[1 2 0 1 0]" {
		t.Errorf("ClassCountsChecked(5) = %v, %v", c, err)
	}
	if c, err := ClassCountsChecked(ok, 0); err != nil || fmt.Sprint(c) != "[1 2 0 1]" {
		t.Errorf("ClassCountsChecked(0) = %v, %v", c, err)
	}
	if _, err := ClassCountsChecked(ok, 3); err == nil || !strings.Contains(err.Error(), "item 3 has label 3, want 0 <= label < 3") {
		t.Errorf("ClassCountsChecked(3): %v", err)
	}
	if c := ClassCounts(AsUnknown(ok, 10)); len(c) != 11 || c[10] != 4 {
		t.Errorf("ClassCounts of an unknown set = %v", c)
	}
}

// TestHardenCIFARFile reads CIFAR batch files by path, sizes checked first,
// and checks that a failed batch leaves the batch it appends to unchanged.
func TestHardenCIFARFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "data_batch_1.bin", cifarRecords(3, false))
	b, err := ReadCIFARFile(p, false, nil)
	if err != nil || b.Len() != 3 || len(b.Pix) != 3*cifarPixels {
		t.Fatalf("ReadCIFARFile: %v", err)
	}
	cut := writeFile(t, dir, "cut.bin", cifarRecords(2, false)[:5000])
	_, err = ReadCIFARFile(cut, false, nil)
	wantFormatErr(t, err, cut, "not a whole number of 3073-byte CIFAR records")
	c100 := writeFile(t, dir, "train.bin", cifarRecords(4, true))
	if b, err := ReadCIFARFile(c100, true, nil); err != nil || b.Len() != 4 || b.Coarse[3] != 3 {
		t.Fatalf("ReadCIFARFile CIFAR-100: %v", err)
	}
	bad := cifarRecords(3, false)
	bad[2*cifar10Record] = 42
	_, err = ReadCIFARBatch(bytes.NewReader(bad), "bad.bin", false, b)
	wantFormatErr(t, err, "bad.bin", "record 2 has label 42")
	if b.Len() != 3 || len(b.Pix) != 3*cifarPixels {
		t.Errorf("a failed batch left %d labels, %d pixel bytes (want the 3 images before)", b.Len(), len(b.Pix))
	}
}

// TestHardenNPYFile: an .npy file whose header announces more (or less)
// than the file holds is refused from the file's size, before reading.
func TestHardenNPYFile(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 48)
	good := writeFile(t, dir, "good.npy", npyBytes(npyDict("<i8", "(2, 3)"), data))
	if a, err := ReadNPYFile(good); err != nil || a.Numel() != 6 || len(a.Data) != 48 {
		t.Fatalf("ReadNPYFile: %v", err)
	}
	lie := writeFile(t, dir, "lie.npy", npyBytes(npyDict("<f4", "(16384, 16384)"), data))
	var err error
	if n := allocated(func() { _, err = ReadNPYFile(lie) }); n > 1<<20 {
		t.Errorf("a 1 GiB npy header over 48 bytes allocated %d bytes", n)
	}
	wantFormatErr(t, err, lie, "needs 1073741824 data bytes, file has 48")
	long := writeFile(t, dir, "long.npy", npyBytes(npyDict("<i8", "(5,)"), data))
	_, err = ReadNPYFile(long)
	wantFormatErr(t, err, long, "needs 40 data bytes, file has 48")
	notzip := writeFile(t, dir, "x.npz", data)
	_, err = OpenNPZ(notzip)
	wantFormatErr(t, err, notzip, "not a readable npz")
}
