package data

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// The fuzz targets check that no input makes a reader panic or allocate
// far beyond its input: announced sizes are capped by MaxIDXBytes etc.,
// which the fuzz setup lowers so that a lying header would show as an
// out-of-memory failure.

func lowerLimits(f *testing.F) {
	oldI, oldN, oldE := MaxIDXBytes, MaxNPYBytes, MaxEntryBytes
	MaxIDXBytes, MaxNPYBytes, MaxEntryBytes = 1<<24, 1<<24, 1<<24
	f.Cleanup(func() { MaxIDXBytes, MaxNPYBytes, MaxEntryBytes = oldI, oldN, oldE })
}

func FuzzIDX(f *testing.F) {
	lowerLimits(f)
	raw := idxBytes(0x08, []int{2, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(raw)
	f.Add(gz(raw))
	f.Add(idxBytes(0x0D, []int{1}, []byte{0, 0, 128, 63}))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ReadIDX(bytes.NewReader(b), "fuzz.idx")
		if err == nil {
			n := idxElemSize(x.Type)
			for _, d := range x.Dims {
				n *= d
			}
			if n != len(x.Data) {
				t.Fatalf("dims %v type %#x but %d data bytes", x.Dims, x.Type, len(x.Data))
			}
		}
	})
}

func FuzzCIFAR(f *testing.F) {
	f.Add(cifarRecords(1, false), false)
	f.Add(cifarRecords(2, true), true)
	f.Fuzz(func(t *testing.T, b []byte, c100 bool) {
		batch, err := ReadCIFARBatch(bytes.NewReader(b), "fuzz.bin", c100, nil)
		if err == nil && len(batch.Pix) != batch.Len()*cifarPixels {
			t.Fatalf("%d labels, %d pixel bytes", batch.Len(), len(batch.Pix))
		}
	})
}

func FuzzNPY(f *testing.F) {
	lowerLimits(f)
	f.Add(npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", make([]byte, 16)))
	f.Add(npyBytes("{'descr': '|b1', 'fortran_order': False, 'shape': (1, 2, 3), }", make([]byte, 6)))
	f.Add(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", make([]byte, 4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ReadNPY(bytes.NewReader(b), "fuzz.npy")
		if err == nil && int64(len(a.Data)) != a.Numel()*int64(a.ElemSize()) {
			t.Fatalf("shape %v dtype %s but %d bytes", a.Shape, a.Descr, len(a.Data))
		}
		if z, err := NewNPZ(bytes.NewReader(b), int64(len(b)), "fuzz.npz"); err == nil {
			for _, n := range z.Names() {
				z.Read(n)
			}
		}
	})
}

func FuzzArchive(f *testing.F) {
	lowerLimits(f)
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("c/a.png")
	w.Write([]byte("data"))
	zw.Close()
	f.Add(zb.Bytes())
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "c/x.jpg", Size: 3, Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write([]byte("abc"))
	tw.Close()
	f.Add(tb.Bytes())
	f.Add(gz(tb.Bytes()))
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(name string, data []byte) error {
			if _, err := cleanEntryName(name); err != nil || len(data) > int(MaxEntryBytes) {
				t.Fatalf("walker passed on %q (%d bytes)", name, len(data))
			}
			return nil
		}
		WalkZip(bytes.NewReader(b), int64(len(b)), "fuzz.zip", nil, check)
		WalkTar(bytes.NewReader(b), "fuzz.tar", nil, check)
		DecodeImage(b, "fuzz.img", 3)
	})
}

// FuzzNPZShape feeds npz archives whose array headers carry fuzzed shapes
// and dtypes through NPZ.Header, NPZ.Read and ReadOmniglotNPZ (the path
// train, test and data info take for omniglot). No shape may panic, and a
// header that is accepted must have a size, and partial products of its
// dimensions, that fit the limit.
func FuzzNPZShape(f *testing.F) {
	lowerLimits(f)
	f.Add("(1, 20, 105, 105)", "(1, 20)", "<i8", []byte{0, 1, 2})
	f.Add("(4294967296, 2147483648)", "(2, 3)", "|u1", []byte{1})
	f.Add("(0, 1099511627776, 1099511627776)", "(16777216, 1099511627776)", "<i4", []byte{})
	f.Add("()", "(3,)", "|b1", []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, imgShape, labShape, labDescr string, payload []byte) {
		if len(imgShape)+len(labShape)+len(labDescr) > 200 {
			return
		}
		zb := zipOf(t,
			"images.npy", npyBytes(npyDict("|b1", imgShape), payload),
			"labels.npy", npyBytes(npyDict(labDescr, labShape), payload))
		z, err := NewNPZ(bytes.NewReader(zb), int64(len(zb)), "fuzz.npz")
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"images", "labels"} {
			h, err := z.Header(key)
			if err == nil {
				n := int64(h.ElemSize())
				for i, d := range h.Shape {
					if d != 0 {
						n *= int64(d)
					}
					if n < 0 || n > MaxNPYBytes {
						t.Fatalf("%s: accepted shape %v, non-zero dims 0..%d make %d bytes", key, h.Shape, i, n)
					}
				}
				if h.Numel() < 0 || h.dataBytes() < 0 {
					t.Fatalf("%s: accepted shape %v has Numel %d", key, h.Shape, h.Numel())
				}
			}
			if a, err := z.Read(key); err == nil && int64(len(a.Data)) != a.dataBytes() {
				t.Fatalf("%s: shape %v dtype %s but %d bytes", key, a.Shape, a.Descr, len(a.Data))
			}
		}
		p := filepath.Join(t.TempDir(), "fuzz.npz")
		if err := os.WriteFile(p, zb, 0o644); err != nil {
			t.Fatal(err)
		}
		imgs, labels, total, err := ReadOmniglotNPZ(p, 0)
		if err == nil && (len(imgs) != len(labels) || len(imgs) != total) {
			t.Fatalf("ReadOmniglotNPZ: %d images, %d labels, total %d", len(imgs), len(labels), total)
		}
	})
}

// FuzzLabels feeds fuzzed labels through the paths that count them:
// ClassCounts and ClassCountsChecked on the labels as they are, and on the
// labels an Omniglot npz carries after ReadOmniglotNPZ. Nothing may panic
// or allocate by a label's value, and ClassCountsChecked must accept
// exactly the labels in range.
func FuzzLabels(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, 2)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 10) // -1
	f.Add([]byte{0, 0, 0, 8, 0, 0, 0, 0}, 0)                          // 2^27
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0x80}, -1)                      // math.MinInt64
	// The images member is the same for every input with c characters:
	// compress it once and copy it in raw.
	type member struct {
		comp     []byte
		crc      uint32
		plainLen int
	}
	images := map[int]member{}
	f.Fuzz(func(t *testing.T, raw []byte, classNum int) {
		if len(raw) > 8*40 {
			raw = raw[:8*40]
		}
		var vals []int
		for i := 0; i+8 <= len(raw); i += 8 {
			vals = append(vals, int(int64(binary.LittleEndian.Uint64(raw[i:]))))
		}
		checkCounts(t, vals, classNum)

		// The same labels as an Omniglot npz's (C x 20, padded with 0).
		c := max(1, (len(vals)+19)/20)
		lab := make([]byte, 8*c*20)
		copy(lab, raw)
		img, ok := images[c]
		if !ok {
			plain := npyBytes(npyDict("|b1", fmt.Sprintf("(%d, 20, 105, 105)", c)), make([]byte, c*20*105*105))
			img = member{deflated(t, plain), crc32.ChecksumIEEE(plain), len(plain)}
			images[c] = img
		}
		var zb bytes.Buffer
		zw := zip.NewWriter(&zb)
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "images.npy", Method: zip.Deflate, CRC32: img.crc,
			CompressedSize64: uint64(len(img.comp)), UncompressedSize64: uint64(img.plainLen)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(img.comp)
		w, _ = zw.Create("labels.npy")
		w.Write(npyBytes(npyDict("<i8", fmt.Sprintf("(%d, 20)", c)), lab))
		zw.Close()
		p := filepath.Join(t.TempDir(), "fuzz.npz")
		if err := os.WriteFile(p, zb.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		_, labels, _, err := ReadOmniglotNPZ(p, 0)
		if err != nil {
			t.Fatalf("valid npz with fuzzed labels: %v", err)
		}
		checkCounts(t, labels, c)
	})
}

// checkCounts checks ClassCounts and ClassCountsChecked(classNum) on
// labels against a direct count.
func checkCounts(t *testing.T, labels []int, classNum int) {
	t.Helper()
	ds := &Memory{Labels: labels}
	want := map[int]int{}
	inRange, inMax := true, 0
	for _, l := range labels {
		if l >= 0 && l < MaxClasses {
			want[l]++
			inMax++
		}
		if l < 0 || (classNum > 0 && l >= classNum) || (classNum <= 0 && l >= MaxClasses) {
			inRange = false
		}
	}
	c := ClassCounts(ds)
	sum := 0
	for l, n := range c {
		if n != want[l] {
			t.Fatalf("ClassCounts[%d] = %d, want %d", l, n, want[l])
		}
		sum += n
	}
	if len(c) > MaxClasses || sum != inMax {
		t.Fatalf("ClassCounts: %d counts summing to %d, want %d", len(c), sum, inMax)
	}
	cc, err := ClassCountsChecked(ds, classNum)
	switch {
	case classNum > MaxClasses:
		if err == nil {
			t.Fatalf("ClassCountsChecked accepted class count %d", classNum)
		}
	case (err == nil) != inRange:
		t.Fatalf("ClassCountsChecked(%d) on %v: %v", classNum, labels, err)
	case err == nil && classNum > 0 && len(cc) != classNum:
		t.Fatalf("ClassCountsChecked(%d): %d counts", classNum, len(cc))
	}
}
