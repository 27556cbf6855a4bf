package data

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func idxBytes(typ byte, dims []int, payload []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, typ, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(payload)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// wantFormatErr checks that err is a *FormatError naming file and
// mentioning problem.
func wantFormatErr(t *testing.T, err error, file, problem string) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a FormatError about %q", err, problem)
	}
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), problem) {
		t.Fatalf("error %q does not name %q and %q", err, file, problem)
	}
}

func TestIDX(t *testing.T) {
	payload := make([]byte, 2*3*4)
	for i := range payload {
		payload[i] = byte(i)
	}
	raw := idxBytes(0x08, []int{2, 3, 4}, payload)
	for name, b := range map[string][]byte{"raw": raw, "gz": gz(raw)} {
		x, err := ReadIDX(bytes.NewReader(b), name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x.Data, payload) || x.Count() != 2 || x.ItemSize() != 12 {
			t.Fatalf("%s: decoded %v %v", name, x.Dims, x.Data)
		}
	}
	bad := []struct {
		name, problem string
		b             []byte
	}{
		{"magic.idx", "wrong IDX magic", append([]byte{1, 2}, raw[2:]...)},
		{"type.idx", "unknown IDX element type", idxBytes(0x07, []int{2}, []byte{1, 2})},
		{"short.idx", "need 24 bytes of data, file has 23", raw[:len(raw)-1]},
		{"long.idx", "file has more", append(append([]byte{}, raw...), 9)},
		{"hdr.idx", "IDX dimensions truncated", raw[:6]},
		{"trunc.gz", "truncated or corrupt compressed data", gz(raw)[:30]},
		{"huge.idx", "announces more than", idxBytes(0x08, []int{1 << 30, 1 << 30}, nil)},
	}
	for _, c := range bad {
		_, err := ReadIDX(bytes.NewReader(c.b), c.name)
		wantFormatErr(t, err, c.name, c.problem)
	}
}

func npyBytes(header string, data []byte) []byte {
	h := header
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(data)
	return b.Bytes()
}

func TestNPY(t *testing.T) {
	data := make([]byte, 8*6)
	for i := 0; i < 6; i++ {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(i*i))
	}
	b := npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }", data)
	a, err := ReadNPY(bytes.NewReader(b), "a.npy")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := a.Int64s()
	if fmt.Sprint(a.Shape, v) != "[2 3] [0 1 4 9 16 25]" {
		t.Fatalf("decoded %v %v", a.Shape, v)
	}
	bad := []struct{ name, problem, hdr string }{
		{"dtype.npy", `unsupported npy dtype ">f4"`, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }"},
		{"obj.npy", "unsupported npy dtype", "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }"},
		{"fort.npy", "fortran_order arrays are not supported", "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }"},
		{"noshape.npy", "lacks", "{'descr': '<i8', 'fortran_order': False, }"},
		{"short.npy", "needs 48 data bytes", "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }"},
		{"big.npy", "announces more than", "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }"},
	}
	for _, c := range bad {
		d := data
		if c.name == "short.npy" {
			d = data[:40]
		}
		_, err := ReadNPY(bytes.NewReader(npyBytes(c.hdr, d)), c.name)
		wantFormatErr(t, err, c.name, c.problem)
	}
	_, err = ReadNPY(bytes.NewReader([]byte("PK\x03\x04....")), "zip.npy")
	wantFormatErr(t, err, "zip.npy", "not an npy file")

	// npz: a zip of npy members, one of which lies about its shape.
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("labels.npy")
	w.Write(b)
	w, _ = zw.Create("short.npy")
	w.Write(npyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (100,), }", make([]byte, 50)))
	zw.Close()
	z, err := NewNPZ(bytes.NewReader(zb.Bytes()), int64(zb.Len()), "x.npz")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := z.Read("labels"); err != nil || a.Numel() != 6 {
		t.Fatalf("npz labels: %v", err)
	}
	_, err = z.Read("short")
	wantFormatErr(t, err, "x.npz:short.npy", "shorter than its header")
	_, err = z.Read("missing")
	wantFormatErr(t, err, "x.npz", `no array "missing"`)
}

func cifarRecords(n int, cifar100 bool) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		if cifar100 {
			b.WriteByte(byte(i % 20))
			b.WriteByte(byte(i % 100))
		} else {
			b.WriteByte(byte(i % 10))
		}
		px := make([]byte, cifarPixels)
		for k := range px {
			px[k] = byte(i + k)
		}
		b.Write(px)
	}
	return b.Bytes()
}

func TestCIFARBinary(t *testing.T) {
	b, err := ReadCIFARBatch(bytes.NewReader(cifarRecords(5, false)), "d.bin", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 5 || b.Labels[3] != 3 || b.Pix[3*cifarPixels+7] != 10 {
		t.Fatalf("decoded %v", b.Labels)
	}
	c, err := ReadCIFARBatch(bytes.NewReader(cifarRecords(150, true)), "t.bin", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 150 || c.Labels[120] != 20 || c.Coarse[120] != 0 || c.Coarse[21] != 1 {
		t.Fatalf("cifar100 labels wrong: fine %d coarse %d", c.Labels[120], c.Coarse[120])
	}
	_, err = ReadCIFARBatch(bytes.NewReader(cifarRecords(2, false)[:5000]), "cut.bin", false, nil)
	wantFormatErr(t, err, "cut.bin", "not a whole number of 3073-byte CIFAR records")
	bad := cifarRecords(1, false)
	bad[0] = 12
	_, err = ReadCIFARBatch(bytes.NewReader(bad), "lab.bin", false, nil)
	wantFormatErr(t, err, "lab.bin", "label 12")

	// The binary distribution's tar.gz, read without unpacking, through
	// the named dataset with class_num splits.
	dir := t.TempDir()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, f := range []struct {
		name string
		n    int
	}{{"cifar-10-batches-bin/data_batch_2.bin", 30}, {"cifar-10-batches-bin/data_batch_1.bin", 20}, {"cifar-10-batches-bin/test_batch.bin", 10}, {"cifar-10-batches-bin/readme.html", 0}} {
		data := cifarRecords(f.n, false)
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	os.MkdirAll(filepath.Join(dir, "cifar10"), 0o755)
	os.WriteFile(filepath.Join(dir, "cifar10", "cifar-10-binary.tar.gz"), gz(tb.Bytes()), 0o644)
	tr, err := Open("cifar10", Train, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 50 || tr.Label(20) != 0 { // batch 1 (20 records) then batch 2
		t.Fatalf("train %d images, label 20 = %d", tr.Len(), tr.Label(20))
	}
	un, err := OpenUnknown("cifar_unknown", Test, Options{Dir: dir, ClassNum: 6})
	if err != nil {
		t.Fatal(err)
	}
	if un.Len() != 4 || un.Label(0) != 6 {
		t.Fatalf("cifar_unknown: %d images, label %d", un.Len(), un.Label(0))
	}
}

func pngBytes(t testing.TB, w, h int, gray bool, seed int) []byte {
	var im image.Image
	if gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = byte(i*seed + seed)
		}
		im = g
	} else {
		c := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c.SetNRGBA(x, y, color.NRGBA{byte(x * seed), byte(y * 3), byte(x + y), 255})
			}
		}
		im = c
	}
	var b bytes.Buffer
	if err := png.Encode(&b, im); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, w, h int) []byte {
	c := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range c.Pix {
		c.Pix[i] = byte(i * 5)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, c, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeZip(t *testing.T, p string, files map[string][]byte, order []string) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range order {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[n])
	}
	zw.Close()
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOmniglotZip builds a miniature images_evaluation.zip in the original
// layout (alphabet/character/XXXX_YY.png, 1-bit PNGs) and reads it as the
// reference does: labels per character in sorted order, inverted and
// resized for the OOD set.
func TestOmniglotZip(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "omniglot"), 0o755)
	files := map[string][]byte{}
	var order []string
	// Listed out of order in the zip: the reader sorts.
	for _, a := range []string{"Bengali", "Angelic"} {
		for _, c := range []string{"character02", "character01", "character10"} {
			for d := 2; d >= 1; d-- {
				n := fmt.Sprintf("images_evaluation/%s/%s/%s_%s_%02d.png", a, c, a[:2], c[9:], d)
				im := image.NewGray(image.Rect(0, 0, 105, 105))
				for i := range im.Pix {
					im.Pix[i] = 255
				}
				im.Pix[len(a)*105+d] = 0 // one black stroke pixel
				var b bytes.Buffer
				png.Encode(&b, im)
				files[n] = b.Bytes()
				order = append(order, n)
			}
		}
	}
	writeZip(t, filepath.Join(dir, "omniglot", "images_evaluation.zip"), files, order)
	f, err := OpenOmniglot(filepath.Join(dir, "omniglot", "images_evaluation.zip"), "images_evaluation")
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 12 || len(f.Classes) != 6 {
		t.Fatalf("%d images in %d classes", f.Len(), len(f.Classes))
	}
	if f.Classes[0] != "Angelic/character01" || f.Classes[2] != "Angelic/character10" || f.Classes[3] != "Bengali/character01" {
		t.Fatalf("class order %v", f.Classes)
	}
	if f.Label(5) != 2 || !strings.HasSuffix(f.Files[0], "An_01_01.png") {
		t.Fatalf("file order %v", f.Files)
	}
	s, err := Open("omniglot", Test, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	im, _ := s.Image(0)
	if s.Len() != 12 || im.H != 28 || im.Pix[0] != 0 {
		t.Fatalf("OOD omniglot: %d images, %dx%d, corner %d (want inverted: black)", s.Len(), im.H, im.W, im.Pix[0])
	}
}

// TestODINFolder builds an ODIN-style tarball (Imagenet/test/*.jpg) and a
// folder, read without unpacking, with ImageFolder labels.
func TestODINFolder(t *testing.T) {
	dir := t.TempDir()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "Imagenet/", Typeflag: tar.TypeDir, Mode: 0o755})
	for i := 0; i < 5; i++ {
		b := jpegBytes(t, 32, 32)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("Imagenet/test/%d.jpg", i), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	os.MkdirAll(filepath.Join(dir, "openset"), 0o755)
	os.WriteFile(filepath.Join(dir, "openset", "Imagenet.tar.gz"), gz(tb.Bytes()), 0o644)
	s, err := OpenUnknown("imagenet-crop", Test, Options{Dir: dir, ClassNum: 10})
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := s.Shape(); s.Len() != 5 || s.Label(4) != 10 || c != 3 || h != 32 || w != 32 {
		t.Fatalf("imagenet-crop: %d images, label %d, shape %d %d %d", s.Len(), s.Label(4), c, h, w)
	}
	// An unpacked folder of PNGs with two classes.
	root := filepath.Join(dir, "openset", "LSUN")
	for _, c := range []string{"b", "a"} {
		os.MkdirAll(filepath.Join(root, c, "sub"), 0o755)
		os.WriteFile(filepath.Join(root, c, "x.png"), pngBytes(t, 8, 8, false, 3), 0o644)
		os.WriteFile(filepath.Join(root, c, "sub", "y.png"), pngBytes(t, 8, 8, true, 5), 0o644)
		os.WriteFile(filepath.Join(root, c, "notes.txt"), []byte("skip me"), 0o644)
	}
	l, err := Open("lsun-crop", Test, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	f := l.Dataset.(*Folder)
	if l.Len() != 4 || f.Classes[0] != "a" || f.Label(3) != 1 || f.Files[0] != "a/x.png" || f.Files[1] != "a/sub/y.png" {
		t.Fatalf("folder: %d images, classes %v, files %v", l.Len(), f.Classes, f.Files)
	}
	// Gray PNG loaded as RGB replicates the channel.
	im, err := f.Image(1)
	if err != nil {
		t.Fatal(err)
	}
	if im.C != 3 || im.Pix[5] != im.Pix[64+5] || im.Pix[5] != im.Pix[128+5] {
		t.Fatal("gray PNG not replicated to RGB")
	}
}

// TestArchiveBadInput: climbing entry names, absurd expansion, corrupt
// images, truncated tars.
func TestArchiveBadInput(t *testing.T) {
	dir := t.TempDir()
	zp := filepath.Join(dir, "evil.zip")
	writeZip(t, zp, map[string][]byte{"ok/a.png": {1}, "../../etc/x.png": {1}}, []string{"ok/a.png", "../../etc/x.png"})
	err := WalkArchive(zp, nil, func(string, []byte) error { return nil })
	wantFormatErr(t, err, "evil.zip", "climbs out of the target folder")

	// A zip entry that inflates to far more than the limit.
	old := MaxEntryBytes
	MaxEntryBytes = 1 << 20
	defer func() { MaxEntryBytes = old }()
	bomb := filepath.Join(dir, "bomb.zip")
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("big/zeros.png")
	zeros := make([]byte, 1<<16)
	for i := 0; i < 64; i++ { // 4 MiB of zeros compress to a few KiB
		w.Write(zeros)
	}
	zw.Close()
	os.WriteFile(bomb, b.Bytes(), 0o644)
	err = WalkArchive(bomb, nil, func(string, []byte) error { return nil })
	wantFormatErr(t, err, "bomb.zip:big/zeros.png", "limit")

	// Tar with a member name escaping the root, and a truncated tar.
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "a/../../b.jpg", Size: 1, Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write([]byte{1})
	tw.Close()
	tp := filepath.Join(dir, "evil.tar")
	os.WriteFile(tp, tb.Bytes(), 0o644)
	err = WalkArchive(tp, nil, func(string, []byte) error { return nil })
	wantFormatErr(t, err, "evil.tar", "climbs out")
	var tb2 bytes.Buffer
	tw = tar.NewWriter(&tb2)
	payload := jpegBytes(t, 16, 16)
	tw.WriteHeader(&tar.Header{Name: "c/x.jpg", Size: int64(len(payload)), Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write(payload)
	tw.Close()
	cut := filepath.Join(dir, "cut.tar")
	os.WriteFile(cut, tb2.Bytes()[:700], 0o644)
	err = WalkArchive(cut, nil, func(string, []byte) error { return nil })
	wantFormatErr(t, err, "cut.tar:c/x.jpg", "truncated")

	// Corrupt images name the file.
	for name, data := range map[string][]byte{
		"bad.png":  pngBytes(t, 8, 8, false, 1)[:60],
		"bad.jpg":  jpegBytes(t, 16, 16)[:200],
		"text.png": []byte("hello"),
	} {
		_, err := DecodeImage(data, name, 3)
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v, want a FormatError naming the file", name, err)
		}
	}
	// A PNG header announcing a gigantic image is refused before decoding.
	huge := pngBytes(t, 8, 8, true, 1)
	binary.BigEndian.PutUint32(huge[16:], 1<<20)
	binary.BigEndian.PutUint32(huge[20:], 1<<20)
	if _, err := DecodeImage(huge, "huge.png", 1); err == nil {
		t.Error("gigantic PNG header accepted")
	}
}

func TestIDXPairMismatch(t *testing.T) {
	dir := t.TempDir()
	ip, lp := filepath.Join(dir, "i.gz"), filepath.Join(dir, "l.gz")
	os.WriteFile(ip, gz(idxBytes(8, []int{3, 2, 2}, make([]byte, 12))), 0o644)
	os.WriteFile(lp, gz(idxBytes(8, []int{4}, []byte{0, 1, 2, 3})), 0o644)
	_, _, err := ReadIDXDataset(ip, lp)
	wantFormatErr(t, err, "l.gz", "4 labels for 3 images")
	os.WriteFile(lp, gz(idxBytes(0x0C, []int{3}, make([]byte, 12))), 0o644)
	_, _, err = ReadIDXDataset(ip, lp)
	wantFormatErr(t, err, "l.gz", "want a uint8 label vector")
}

// TestCIFAR100Named reads a miniature cifar-100-binary.tar.gz through the
// named cifar100_known/unknown sets (fine labels, class_num split).
func TestCIFAR100Named(t *testing.T) {
	dir := t.TempDir()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, f := range []struct {
		name string
		n    int
	}{{"cifar-100-binary/train.bin", 200}, {"cifar-100-binary/test.bin", 100}, {"cifar-100-binary/fine_label_names.txt", 0}} {
		data := cifarRecords(f.n, true)
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	os.MkdirAll(filepath.Join(dir, "cifar100"), 0o755)
	os.WriteFile(filepath.Join(dir, "cifar100", "cifar-100-binary.tar.gz"), gz(tb.Bytes()), 0o644)
	k, err := Open("cifar100_known", Train, Options{Dir: dir, ClassNum: 30})
	if err != nil {
		t.Fatal(err)
	}
	if k.Len() != 60 || k.Label(59) != 29 {
		t.Fatalf("cifar100_known: %d images, last label %d", k.Len(), k.Label(k.Len()-1))
	}
	u, err := OpenUnknown("cifar100_unknown", Test, Options{Dir: dir, ClassNum: 30})
	if err != nil {
		t.Fatal(err)
	}
	if u.Len() != 70 || u.Label(0) != 30 {
		t.Fatalf("cifar100_unknown: %d images, label %d", u.Len(), u.Label(0))
	}
}
