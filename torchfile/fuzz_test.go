package torchfile

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// fixtureBytes returns the committed fixtures' contents.
func fixtureBytes(f *testing.F, names ...string) [][]byte {
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzUnpickle runs the restricted unpickler on arbitrary bytes, with a
// persistent loader like the zip reader's, and renders what it built as
// JSON: nothing may panic or run away, whatever the input.
func FuzzUnpickle(f *testing.F) {
	for _, b := range fixtureBytes(f, "plain_zip.pt", "lightning.ckpt", "proto4.pt") {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range zr.File {
			if filepath.Base(e.Name) == "data.pkl" {
				rc, _ := e.Open()
				var pkl bytes.Buffer
				pkl.ReadFrom(rc)
				rc.Close()
				f.Add(pkl.Bytes())
			}
		}
	}
	for _, b := range fixtureBytes(f, "plain_legacy.pt", "snapshot.pth.tar", "namespace_legacy.ckpt") {
		f.Add(b)
	}
	f.Add(stateDict("w", "0", 6, 0, []int32{2, 3}, []int32{3, 1}))
	f.Add([]byte{opProto, 4, opFrame, 3, 0, 0, 0, 0, 0, 0, 0, opEmptyList, opMemoize, opStop})
	f.Fuzz(func(t *testing.T, data []byte) {
		load := func(pid any) (any, error) {
			tup, ok := pid.(pyTuple)
			if !ok || len(tup) < 5 {
				return nil, errFuzz
			}
			key, _ := tup[2].(string)
			st, err := newStorage(tup[1], key, tup[3], tup[4])
			if err == nil && st.numel > int64(len(data)) {
				// A real reader checks the count against the storage's
				// record; here the input stands for the storages.
				return nil, errFuzz
			}
			return st, err
		}
		v, n, err := unpickle("fuzz", data, load)
		if n < 0 || n > len(data) {
			t.Fatalf("used %d of %d bytes", n, len(data))
		}
		if err != nil {
			return
		}
		if js, err := renderJSON(v); err == nil && len(js) > maxJSONBytes+64*1024 {
			t.Fatalf("%d bytes of JSON", len(js))
		}
		if d, ok := v.(*pyDict); ok {
			p := &parsed{name: "fuzz", root: d, storageBytes: int64(len(data))}
			if h, views, err := p.header(&Options{}); err == nil {
				// Storages here are the fuzz input itself, so that gather
				// runs on whatever views survived the checks.
				p.readStorage = func(s *storageRef) ([]byte, error) { return make([]byte, s.numel*int64(s.dtype.size)), nil }
				if _, err := p.materialize(h, views); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

var errFuzz = &FormatError{Name: "fuzz", Msg: "bad persistent id"}

// FuzzReadZip reads arbitrary bytes as a checkpoint, seeded with the zip
// fixtures: truncations, flipped bytes and forged records must end in an
// error, never a panic or an allocation beyond the input.
func FuzzReadZip(f *testing.F) {
	for _, b := range fixtureBytes(f, "plain_zip.pt", "proto4.pt", "lightning.ckpt") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, data)
	})
}

// FuzzReadLegacy is FuzzReadZip for the legacy format.
func FuzzReadLegacy(f *testing.F) {
	for _, b := range fixtureBytes(f, "plain_legacy.pt", "snapshot.pth.tar", "namespace_legacy.ckpt") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, data)
	})
}

func fuzzRead(t *testing.T, data []byte) {
	file, err := ReadFrom("fuzz", bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		return
	}
	var total int
	seen := map[*byte]bool{}
	for _, x := range file.Tensors {
		if len(x.Data) != x.Numel()*x.DType.Size() {
			t.Fatalf("%s: %d bytes for shape %v of %s", x.Name, len(x.Data), x.Shape, x.DType)
		}
		if len(x.Data) > 0 && !seen[&x.Data[0]] {
			// Tied weights share their bytes and cost nothing more.
			seen[&x.Data[0]] = true
			total += x.Numel()
		}
	}
	if total > len(data) {
		t.Fatalf("%d elements from %d bytes", total, len(data))
	}
}

// FuzzZipRecords builds a well-formed archive around an arbitrary data.pkl
// and storage record, so that the fuzzer gets past the CRCs that stop most
// mutations of FuzzReadZip's inputs, into the persistent ids, the views
// and the copies.
func FuzzZipRecords(f *testing.F) {
	f.Add(stateDict("w", "0", 6, 0, []int32{2, 3}, []int32{1, 2}), floats(6))
	f.Add(stateDict("w", "1", 4, 2, []int32{2}, []int32{0}), floats(4))
	for _, b := range fixtureBytes(f, "proto4.pt", "lightning.ckpt") {
		zr, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		for _, e := range zr.File {
			if filepath.Base(e.Name) == "data.pkl" {
				rc, _ := e.Open()
				var pkl bytes.Buffer
				pkl.ReadFrom(rc)
				rc.Close()
				f.Add(pkl.Bytes(), floats(24))
			}
		}
	}
	f.Fuzz(func(t *testing.T, pkl, storage []byte) {
		recs := map[string][]byte{}
		for i := range 4 {
			recs[string(rune('0'+i))] = storage
		}
		fuzzRead(t, torchZip(t, pkl, recs))
	})
}
