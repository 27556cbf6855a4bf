package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func sample() ([]Tensor, map[string]string) {
	ts := []Tensor{
		FromFloat32("layer.weight", []int{2, 3}, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, -0.25}),
		FromInt64("bn.num_batches_tracked", nil, []int64{1 << 40}),
		FromFloat64("stats.cov", []int{2, 2}, []float64{1e-300, 2, 3, math.Pi}),
		FromFloat32("empty", []int{0, 4}, nil),
		FromFloat32("scalar", []int{}, []float32{7}),
	}
	return ts, map[string]string{"epoch": "3", "hp": `{"lr":0.1}`, "ünï": "cödé"}
}

func TestRoundTrip(t *testing.T) {
	ts, meta := sample()
	path := filepath.Join(t.TempDir(), "a.safetensors")
	if err := WriteFile(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata %v, want %v", f.Metadata, meta)
	}
	if len(f.Tensors) != len(ts) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(ts))
	}
	for i, want := range ts {
		got := f.Tensors[i]
		if got.Name != want.Name || got.DType != want.DType || !bytes.Equal(got.Data, want.Data) ||
			!(len(got.Shape) == 0 && len(want.Shape) == 0 || reflect.DeepEqual(got.Shape, want.Shape)) {
			t.Errorf("tensor %d: got %+v, want %+v", i, got, want)
		}
		if g, ok := f.Get(want.Name); !ok || g.Name != want.Name {
			t.Errorf("Get(%q) failed", want.Name)
		}
	}
	w, _ := f.Get("layer.weight")
	v, err := w.Float32s()
	if err != nil || v[2] != 3.5 || !math.IsInf(float64(v[3]), 1) {
		t.Errorf("Float32s = %v, %v", v, err)
	}
	n, _ := f.Get("bn.num_batches_tracked")
	if iv, err := n.Int64s(); err != nil || iv[0] != 1<<40 {
		t.Errorf("Int64s = %v, %v", iv, err)
	}
	c, _ := f.Get("stats.cov")
	if fv, err := c.Float64s(); err != nil || fv[0] != 1e-300 || fv[3] != math.Pi {
		t.Errorf("Float64s = %v, %v", fv, err)
	}
	if _, err := c.Float32s(); err == nil || !strings.Contains(err.Error(), "stats.cov") {
		t.Errorf("Float32s of an F64 tensor: %v", err)
	}
	// 8-byte types come first in the data and every tensor is aligned.
	raw, _ := os.ReadFile(path)
	hl := binary.LittleEndian.Uint64(raw)
	if hl%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hl)
	}
	g, err := Parse(path, raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range g.Tensors {
		if len(x.Data) == 0 {
			continue
		}
		off := uintptr(unsafe.Pointer(&x.Data[0])) - uintptr(unsafe.Pointer(&raw[0]))
		if off%uintptr(x.DType.Size()) != 0 {
			t.Errorf("%s at file offset %d is not aligned to %d", x.Name, off, x.DType.Size())
		}
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after the write, want 1", len(entries))
	}
}

func TestDeterministic(t *testing.T) {
	ts, meta := sample()
	var a, b bytes.Buffer
	if err := Encode(&a, ts, meta); err != nil {
		t.Fatal(err)
	}
	if err := Encode(&b, ts, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two encodings of the same input differ")
	}
}

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ck.safetensors")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// An invalid input is rejected before anything is written: the old
	// file survives and no temporary file remains.
	bad := []Tensor{{Name: "x", DType: F32, Shape: []int{3}, Data: make([]byte, 8)}}
	if err := WriteFile(path, bad, nil); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("bad tensor: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("old file changed to %q", b)
	}
	ts, _ := sample()
	if err := WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.safetensors"), ts, nil); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := map[string][]Tensor{
		"reserved": {FromFloat32(MetadataKey, []int{1}, []float32{1})},
		"twice":    {FromFloat32("a", []int{1}, []float32{1}), FromFloat32("a", []int{1}, []float32{1})},
		"dtype":    {{Name: "h", DType: "F16", Shape: []int{1}, Data: make([]byte, 2)}},
		"short":    {{Name: "s", DType: F64, Shape: []int{2}, Data: make([]byte, 8)}},
		"negative": {{Name: "n", DType: F32, Shape: []int{-1}, Data: nil}},
	}
	for name, ts := range cases {
		if err := Encode(&bytes.Buffer{}, ts, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// file assembles a safetensors file from a raw header and data.
func file(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestBadFiles(t *testing.T) {
	good := file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8))
	if _, err := Parse("good", good); err != nil {
		t.Fatalf("the well-formed base case fails: %v", err)
	}
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, math.MaxUint64)
	big := make([]byte, 16)
	binary.LittleEndian.PutUint64(big, MaxHeader+1)
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"short", []byte{1, 2, 3}, "too short"},
		{"absurd header", huge, "absurd"},
		{"header over limit", big, "absurd"},
		{"header past end", good[:20], "exceeds"},
		{"truncated data", good[:len(good)-1], "outside"},
		{"not json", file(`{"a":`, nil), "bad JSON"},
		{"not object", file(`[1,2]`, nil), "not a JSON object"},
		{"not utf8", file("{\"\xff\":1}", nil), "UTF-8"},
		{"trailing", file(`{} {}`, nil), "trailing"},
		{"entry not object", file(`{"a":5}`, nil), `"a"`},
		{"missing field", file(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), "lacks"},
		{"unsupported dtype", file(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "unsupported dtype \"F16\""},
		{"bad dtype type", file(`{"a":{"dtype":7,"shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), `"a"`},
		{"one offset", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}`, make([]byte, 8)), "two numbers"},
		{"negative offset", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, make([]byte, 8)), `"a"`},
		{"reversed offsets", file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, make([]byte, 8)), "outside"},
		{"offset past end", file(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8)), "outside"},
		{"offset overflow", file(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,18446744073709551615]}}`, make([]byte, 8)), "outside"},
		{"shape mismatch", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "shape [3]"},
		{"shape short", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), "holds 1 elements, not 2"},
		{"shape overflow", file(`{"a":{"dtype":"F32","shape":[2147483647,2147483647,2147483647,4],"data_offsets":[0,8]}}`, make([]byte, 8)), "needs more"},
		{"absurd dim", file(`{"a":{"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]}}`, nil), "absurd dimension"},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}`, make([]byte, 8)), "negative"},
		{"partial element", file(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,6]}}`, make([]byte, 8)), "whole number"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "overlap"},
		{"duplicate", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "twice"},
		{"metadata not strings", file(`{"__metadata__":{"epoch":3}}`, nil), "string values"},
		{"metadata null", file(`{"__metadata__":null}`, nil), "string values"},
		{"trailing bytes", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 11)), "3 trailing bytes"},
		{"data without tensors", file(`{}`, []byte("junk")), "4 trailing bytes"},
		{"hole between", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), `data bytes [4, 8) between tensors "a" and "b" belong to no tensor`},
		{"hole before", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), `data bytes [0, 4) before tensor "a"`},
		{"zero-size inside", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, make([]byte, 8)), "overlap"},
		{"same span twice", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), "overlap"},
	}
	for _, c := range cases {
		_, err := Parse("bad.safetensors", c.b)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), "bad.safetensors") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q should name the file and say %q", c.name, err, c.want)
		}
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %q does not match ErrFormat", c.name, err)
		}
		// The reader and the header-only reader see the same file.
		for what, read := range map[string]func() error{
			"ReadFrom": func() error { _, err := ReadFrom("bad.safetensors", bytes.NewReader(c.b), int64(len(c.b))); return err },
			"ReadHeaderFrom": func() error {
				_, err := ReadHeaderFrom("bad.safetensors", bytes.NewReader(c.b), int64(len(c.b)))
				return err
			},
		} {
			if e := read(); e == nil || e.Error() != err.Error() {
				t.Errorf("%s: %s says %v, Parse says %v", c.name, what, e, err)
			}
		}
	}
}

func TestAcceptsPaddingAndZeroSize(t *testing.T) {
	b := file(`{"__metadata__":{"k":"v"},"z":{"dtype":"I64","shape":[0],"data_offsets":[8,8]},"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}    `, make([]byte, 8))
	f, err := Parse("pad", b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["k"] != "v" || len(f.Tensors) != 2 || f.Tensors[0].Name != "z" {
		t.Errorf("parsed %+v", f)
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "nope")); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "regular") {
		t.Errorf("directory: %v", err)
	}
	p := filepath.Join(dir, "trunc.safetensors")
	if err := os.WriteFile(p, []byte{200, 0, 0, 0, 0, 0, 0, 0, '{', '}'}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("truncated: %v", err)
	}
}

// FuzzRead feeds arbitrary bytes to the reader: it must return a File or an
// error, never panic, and whatever it accepts must re-encode and parse to
// the same tensors.
func FuzzRead(f *testing.F) {
	ts, meta := sample()
	var buf bytes.Buffer
	if err := Encode(&buf, ts, meta); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}`, make([]byte, 16)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		// The three entry points share one validation: they must agree on
		// every input, to the letter of the error.
		parsed, err := Parse("fuzz", b)
		read, rerr := ReadFrom("fuzz", bytes.NewReader(b), int64(len(b)))
		hdr, herr := ReadHeaderFrom("fuzz", bytes.NewReader(b), int64(len(b)))
		if fmt.Sprint(err) != fmt.Sprint(rerr) || fmt.Sprint(err) != fmt.Sprint(herr) {
			t.Fatalf("Parse says %v, ReadFrom %v, ReadHeaderFrom %v", err, rerr, herr)
		}
		// ReadFile through the file system too, under a name that must show.
		fh, ferr := os.CreateTemp(dir, "fuzz-*.safetensors")
		if ferr != nil {
			t.Fatal(ferr)
		}
		path := fh.Name()
		defer os.Remove(path)
		if _, ferr := fh.Write(b); ferr != nil {
			t.Fatal(ferr)
		}
		fh.Close()
		fromFile, ferr := ReadFile(path)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz") {
				t.Errorf("error does not name the file: %v", err)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error on in-memory bytes is not a format error: %v", err)
			}
			if ferr == nil || strings.ReplaceAll(ferr.Error(), path, "fuzz") != err.Error() {
				t.Errorf("ReadFile says %v, Parse %v", ferr, err)
			}
			return
		}
		if ferr != nil {
			t.Fatalf("ReadFile fails where Parse succeeds: %v", ferr)
		}
		// Accepted: the spans cover the data section exactly, and every
		// reader returns the same tensors.
		var covered int64
		for i, info := range hdr.Tensors {
			covered += info.Offsets[1] - info.Offsets[0]
			for _, x := range []Tensor{parsed.Tensors[i], read.Tensors[i], fromFile.Tensors[i]} {
				if x.Name != info.Name || x.DType != info.DType || !reflect.DeepEqual(x.Shape, info.Shape) ||
					int64(len(x.Data)) != info.Offsets[1]-info.Offsets[0] || !bytes.Equal(x.Data, parsed.Tensors[i].Data) {
					t.Fatalf("tensor %d differs between the readers: %+v vs %+v", i, x, info)
				}
			}
		}
		if covered != hdr.DataSize || hdr.DataStart+hdr.DataSize != int64(len(b)) {
			t.Fatalf("accepted a file whose tensors cover %d of %d data bytes (data at %d, file %d bytes)", covered, hdr.DataSize, hdr.DataStart, len(b))
		}
		var out bytes.Buffer
		if err := Encode(&out, parsed.Tensors, parsed.Metadata); err != nil {
			t.Fatalf("accepted file does not re-encode: %v", err)
		}
		again, err := Parse("again", out.Bytes())
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
		if len(again.Tensors) != len(parsed.Tensors) || !reflect.DeepEqual(again.Metadata, parsed.Metadata) {
			t.Fatalf("round trip changed the file")
		}
		for i := range again.Tensors {
			x, y := parsed.Tensors[i], again.Tensors[i]
			if x.Name != y.Name || x.DType != y.DType || !bytes.Equal(x.Data, y.Data) || len(x.Shape) != len(y.Shape) {
				t.Fatalf("tensor %q changed in the round trip", x.Name)
			}
		}
	})
}
