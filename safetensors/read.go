package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxHeader bounds the JSON header (100 MiB, the bound of the reference
// implementation): a larger length field is treated as corruption before
// anything is allocated for it.
const MaxHeader = 100 << 20

// File is a parsed, validated safetensors file held in memory.
type File struct {
	// Name is the path (or the name given to Parse), used in error messages.
	Name string
	// Tensors lists the tensors in header order.
	Tensors []Tensor
	// Metadata is the "__metadata__" map (empty, not nil, when absent).
	Metadata map[string]string

	index map[string]int
}

// Get returns the tensor called name.
func (f *File) Get(name string) (Tensor, bool) {
	i, ok := f.index[name]
	if !ok {
		return Tensor{}, false
	}
	return f.Tensors[i], true
}

// ReadFile reads and validates the safetensors file at path. The whole file
// is read into memory (one allocation of the file's size, known from the
// file system before reading); the returned tensors share it.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s: not a regular file", path)
	}
	size := st.Size()
	if size < 0 || uint64(size) > uint64(math.MaxInt) {
		return nil, fmt.Errorf("safetensors: %s: size %d cannot be held in memory", path, size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(fh, b); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading %d bytes: %w", path, size, err)
	}
	return Parse(path, b)
}

// headerEntry is one tensor's description in the JSON header.
type headerEntry struct {
	DType       *string   `json:"dtype"`
	Shape       *[]int64  `json:"shape"`
	DataOffsets *[]uint64 `json:"data_offsets"`
}

// Parse validates a safetensors file already in memory; name stands for its
// path in error messages. The returned tensors share b.
func Parse(name string, b []byte) (*File, error) {
	fail := func(format string, args ...any) (*File, error) {
		return nil, fmt.Errorf("safetensors: %s: "+format, append([]any{name}, args...)...)
	}
	if len(b) < 8 {
		return fail("%d bytes is too short to hold the 8-byte header length (truncated file?)", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	rest := uint64(len(b) - 8)
	if n > MaxHeader {
		return fail("header length %d is absurd (more than the %d-byte limit); not a safetensors file or corrupt", n, MaxHeader)
	}
	if n > rest {
		return fail("header length %d exceeds the %d bytes that follow it (truncated file?)", n, rest)
	}
	header := b[8 : 8+n]
	data := b[8+n:]
	if !utf8.Valid(header) {
		return fail("header is not valid UTF-8")
	}
	if t := bytes.TrimLeft(header, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fail("header is not a JSON object")
	}

	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the opening brace, checked above
		return fail("bad JSON header: %v", err)
	}
	f := &File{Name: name, Metadata: map[string]string{}, index: map[string]int{}}
	seen := map[string]bool{}
	type span struct {
		begin, end uint64
		name       string
	}
	var spans []span
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail("bad JSON header: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fail("bad JSON header: key %v is not a string", tok)
		}
		if seen[key] {
			return fail("header names %q twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail("bad JSON header at %q: %v", key, err)
		}
		if key == MetadataKey {
			if err := json.Unmarshal(raw, &f.Metadata); err != nil || f.Metadata == nil {
				return fail("%s must be an object of string values: %s", MetadataKey, clip(raw))
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fail("tensor %q: bad header entry %s: %v", key, clip(raw), err)
		}
		if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
			return fail("tensor %q: header entry %s lacks dtype, shape or data_offsets", key, clip(raw))
		}
		dt := DType(*e.DType)
		if dt.Size() == 0 {
			return fail("tensor %q: unsupported dtype %q (supported: F32, F64, I64)", key, *e.DType)
		}
		offs := *e.DataOffsets
		if len(offs) != 2 {
			return fail("tensor %q: data_offsets %v must hold two numbers", key, offs)
		}
		begin, end := offs[0], offs[1]
		if begin > end || end > uint64(len(data)) {
			return fail("tensor %q: data_offsets [%d, %d] fall outside the %d data bytes (truncated file?)", key, begin, end, len(data))
		}
		// The byte span is now known to lie within the file, so the element
		// count it implies is bounded; the shape must agree with it exactly,
		// checked by division so that no product can overflow.
		avail := (end - begin) / uint64(dt.Size())
		if (end-begin)%uint64(dt.Size()) != 0 {
			return fail("tensor %q: %d bytes is not a whole number of %s elements", key, end-begin, dt)
		}
		shape, msg := checkShape(*e.Shape, avail)
		if msg != "" {
			return fail("tensor %q: shape %v %s, but data_offsets [%d, %d] span %d bytes of %s", key, *e.Shape, msg, begin, end, end-begin, dt)
		}
		f.index[key] = len(f.Tensors)
		f.Tensors = append(f.Tensors, Tensor{Name: key, DType: dt, Shape: shape, Data: data[begin:end:end]})
		spans = append(spans, span{begin, end, key})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fail("bad JSON header: %v", err)
	}
	if rest := strings.TrimSpace(string(header[dec.InputOffset():])); rest != "" {
		return fail("bad JSON header: %d bytes of trailing data after the object", len(rest))
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	for i := 1; i < len(spans); i++ {
		p, q := spans[i-1], spans[i]
		if q.begin < p.end {
			return fail("tensors %q [%d, %d] and %q [%d, %d] overlap", p.name, p.begin, p.end, q.name, q.begin, q.end)
		}
	}
	return f, nil
}

// clip shortens a header fragment for an error message.
func clip(b []byte) string {
	const limit = 120
	if len(b) <= limit {
		return string(b)
	}
	return string(b[:limit]) + "..."
}

// checkShape converts a header shape, checking that it holds exactly avail
// elements. Products are formed by division against avail, so no dimension
// from the file can overflow them. It returns what is wrong, or "".
func checkShape(dims []int64, avail uint64) ([]int, string) {
	shape := make([]int, len(dims))
	hasZero := false
	for _, d := range dims {
		if d < 0 {
			return nil, "has a negative dimension"
		}
		if d > math.MaxInt32 {
			return nil, "has an absurd dimension"
		}
		hasZero = hasZero || d == 0
	}
	count := uint64(1)
	for i, d := range dims {
		shape[i] = int(d)
		if hasZero {
			continue
		}
		if uint64(d) > avail/count {
			return nil, "needs more elements than the data holds"
		}
		count *= uint64(d)
	}
	if hasZero {
		count = 0
	}
	if count != avail {
		return nil, fmt.Sprintf("holds %d elements, not %d", count, avail)
	}
	return shape, ""
}
