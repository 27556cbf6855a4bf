package data

import (
	"archive/tar"
	"archive/zip"
	"bytes"
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
