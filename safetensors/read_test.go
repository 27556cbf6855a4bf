package safetensors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// sparseTail writes a valid one-tensor file followed by tail bytes that
// the file system stores as a hole (no disk, no page cache), and returns its
// path and the size of the file without the tail.
func sparseTail(t *testing.T, tail int64) (string, int64) {
	t.Helper()
	b := file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8))
	path := filepath.Join(t.TempDir(), "tail.safetensors")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(int64(len(b)) + tail); err != nil {
		t.Skipf("cannot make a sparse file of %d bytes here: %v", int64(len(b))+tail, err)
	}
	return path, int64(len(b))
}

// allocated returns how many bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A valid header followed by a 64 GiB sparse tail used to be read whole
// into one allocation (out of memory); it must be refused from the header
// alone, naming the file and the trailing byte count, with next to nothing
// allocated.
func TestSparseTailRefusedWithoutAllocating(t *testing.T) {
	const tail = 64 << 30
	path, _ := sparseTail(t, tail)
	for name, read := range map[string]func() error{
		"ReadFile":   func() error { _, err := ReadFile(path); return err },
		"ReadHeader": func() error { _, err := ReadHeader(path); return err },
	} {
		var err error
		n := allocated(func() { err = read() })
		want := fmt.Sprintf("%d trailing bytes", int64(tail))
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v should name %s and say %q", name, err, path, want)
		}
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v does not match ErrFormat", name, err)
		}
		if n > 1<<20 {
			t.Errorf("%s allocated %d bytes to refuse the file; want well under 1 MiB", name, n)
		}
	}
}

func TestTrailingGarbageRefused(t *testing.T) {
	ts, meta := sample()
	var buf bytes.Buffer
	if err := Encode(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "junk.safetensors")
	if err := os.WriteFile(path, append(buf.Bytes(), "#!/bin/sh\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "10 trailing bytes") {
		t.Errorf("ReadFile: %v", err)
	}
	if _, err := ReadHeader(path); err == nil || !strings.Contains(err.Error(), "10 trailing bytes") {
		t.Errorf("ReadHeader: %v", err)
	}
}

func TestHoleAndOverlapRefusedFromFiles(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"hole":    {file(`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1],"data_offsets":[16,24]}}`, make([]byte, 24)), "[8, 16) between tensors \"a\" and \"b\""},
		"overlap": {file(`{"a":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}`, make([]byte, 16)), "overlap"},
	} {
		path := filepath.Join(dir, name+".safetensors")
		if err := os.WriteFile(path, c.b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v should name the file and say %q", name, err, c.want)
		}
	}
}

// rangeReader records the byte ranges read from it.
type rangeReader struct {
	r      io.ReaderAt
	ranges [][2]int64
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	r.ranges = append(r.ranges, [2]int64{off, off + int64(len(p))})
	return r.r.ReadAt(p, off)
}

func TestReadHeader(t *testing.T) {
	ts, meta := sample()
	path := filepath.Join(t.TempDir(), "h.safetensors")
	if err := WriteFile(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	h, err := ReadHeader(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if h.Name != path || !reflect.DeepEqual(h.Metadata, meta) || h.DataStart+h.DataSize != st.Size() {
		t.Errorf("header %+v of a %d-byte file", h, st.Size())
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Tensors) != len(ts) {
		t.Fatalf("%d tensor infos, want %d", len(h.Tensors), len(ts))
	}
	for i, info := range h.Tensors {
		x := f.Tensors[i]
		if info.Name != ts[i].Name || info.DType != x.DType || !reflect.DeepEqual(info.Shape, x.Shape) ||
			info.Offsets[1]-info.Offsets[0] != int64(len(ts[i].Data)) || info.Numel() != x.Numel() {
			t.Errorf("tensor %d: info %+v, file has %+v", i, info, x)
		}
		if g, ok := h.Get(info.Name); !ok || !reflect.DeepEqual(g, info) {
			t.Errorf("Get(%q) = %+v, %v", info.Name, g, ok)
		}
	}
	if _, ok := h.Get("nope"); ok {
		t.Error("Get of a missing name succeeded")
	}

	// Header only: nothing at or past the data section is read.
	raw, _ := os.ReadFile(path)
	rr := &rangeReader{r: bytes.NewReader(raw)}
	if _, err := ReadHeaderFrom("mem", rr, int64(len(raw))); err != nil {
		t.Fatal(err)
	}
	for _, r := range rr.ranges {
		if r[1] > h.DataStart {
			t.Errorf("ReadHeaderFrom read bytes [%d, %d), past the header's end at %d", r[0], r[1], h.DataStart)
		}
	}
	// The full read reads each tensor's span once, plus the header and a
	// one-byte probe of the end: never the file as one piece.
	rr.ranges = nil
	if _, err := ReadFrom("mem", rr, int64(len(raw))); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, r := range rr.ranges {
		total += r[1] - r[0]
		if r[0] >= h.DataStart && r[1]-r[0] > 32 {
			t.Errorf("ReadFrom read [%d, %d) at once; the largest tensor is 32 bytes", r[0], r[1])
		}
	}
	if total != int64(len(raw))+1 {
		t.Errorf("ReadFrom read %d bytes of a %d-byte file; want each byte once plus the probe", total, len(raw))
	}
}

// The header of a file whose one tensor fills a 64 GiB sparse data section
// is valid and read in a few hundred bytes; the data is never touched.
func TestReadHeaderOfHugeFile(t *testing.T) {
	const size = 64 << 30
	b := file(fmt.Sprintf(`{"__metadata__":{"ae_type":"resnet"},"w":{"dtype":"F32","shape":[%d,1024],"data_offsets":[0,%d]}}`, size/4096, int64(size)), nil)
	path := filepath.Join(t.TempDir(), "huge.safetensors")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(len(b))+size); err != nil {
		t.Skipf("cannot make a sparse file here: %v", err)
	}
	var h *Header
	var err error
	if n := allocated(func() { h, err = ReadHeader(path) }); n > 1<<20 {
		t.Errorf("ReadHeader allocated %d bytes", n)
	}
	if err != nil {
		t.Fatal(err)
	}
	w, ok := h.Get("w")
	if !ok || !reflect.DeepEqual(w.Shape, []int{size / 4096, 1024}) || w.Offsets != [2]int64{0, size} || h.Metadata["ae_type"] != "resnet" {
		t.Errorf("header %+v", h)
	}
}

// shortReader claims more bytes than it holds, as a file truncated after
// it was stat'ed does.
type shortReader struct {
	b    []byte
	size int64
}

func (r shortReader) ReadAt(p []byte, off int64) (int, error) {
	return bytesReaderAt(r.b).ReadAt(p, off)
}

// A reader shorter than its claimed size fails before any tensor is
// allocated, not after allocating the declared sizes.
func TestShortReaderFailsBeforeAllocating(t *testing.T) {
	const size = 1 << 40
	b := file(fmt.Sprintf(`{"w":{"dtype":"I64","shape":[%d,1024],"data_offsets":[0,%d]}}`, size/8/1024, int64(size)), make([]byte, 64))
	r := shortReader{b, int64(len(b)) - 64 + size}
	var err error
	if n := allocated(func() { _, err = ReadFrom("short", r, r.size) }); n > 1<<20 {
		t.Errorf("ReadFrom allocated %d bytes", n)
	}
	if err == nil || !strings.Contains(err.Error(), "short") || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("error %v", err)
	}
	if errors.Is(err, ErrFormat) {
		t.Errorf("a read failure %v is reported as a malformed file", err)
	}
}

func TestErrFormatOnlyForMalformedFiles(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "missing.safetensors"))
	if err == nil || errors.Is(err, ErrFormat) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadHeader(t.TempDir()); err == nil || !strings.Contains(err.Error(), "a directory") {
		t.Errorf("directory: %v", err)
	}
}
