package safetensors

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewFile(t *testing.T) {
	ts := []Tensor{FromFloat32("w", []int{2}, []float32{1, 2}), FromInt64("n", nil, []int64{3})}
	meta := map[string]string{"epoch": "1"}
	f, err := NewFile("mem", ts, meta)
	if err != nil {
		t.Fatal(err)
	}
	meta["epoch"] = "2"
	if x, ok := f.Get("n"); !ok || x.DType != I64 || f.Metadata["epoch"] != "1" || f.Name != "mem" {
		t.Errorf("Get n = %+v, %v; metadata %v", x, ok, f.Metadata)
	}
	// It can be written and read back as it is.
	var b bytes.Buffer
	if err := Encode(&b, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("mem", b.Bytes()); err != nil {
		t.Fatal(err)
	}
	if f, err := NewFile("mem", nil, nil); err != nil || f.Metadata == nil {
		t.Errorf("empty file: %v, %v", f, err)
	}
	bad := []Tensor{ts[0], ts[0]}
	if _, err := NewFile("mem", bad, nil); err == nil || !strings.Contains(err.Error(), "twice") || !strings.Contains(err.Error(), "mem") {
		t.Errorf("duplicate names: %v", err)
	}
	short := []Tensor{{Name: "s", DType: F32, Shape: []int{3}, Data: make([]byte, 8)}}
	if _, err := NewFile("mem", short, nil); err == nil {
		t.Error("a tensor shorter than its shape was accepted")
	}
}
