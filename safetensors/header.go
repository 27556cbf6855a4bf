package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxHeader bounds the JSON header (100 MiB, the bound of the reference
// implementation): a larger length field is treated as corruption before
// anything is allocated for it.
const MaxHeader = 100 << 20

// ErrFormat is matched (errors.Is) by every error that reports a malformed
// file, as opposed to one that could not be opened or read. Callers use it
// to tell "this is not a safetensors file" (a PyTorch pickle, a truncated
// download) from a file system problem.
var ErrFormat = errors.New("safetensors: malformed file")

// formatError is a malformed-file error; its text names the file, and it
// matches ErrFormat so that callers need not parse the text.
type formatError struct {
	name, msg string
}

func (e *formatError) Error() string { return "safetensors: " + e.name + ": " + e.msg }

func (e *formatError) Is(target error) bool { return target == ErrFormat }

// TensorInfo is one tensor as the header declares it, validated but with
// its data not read.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	// Offsets are the header's data_offsets: the tensor's bytes are
	// [Offsets[0], Offsets[1]) counted from the start of the data section
	// (Header.DataStart in the file).
	Offsets [2]int64
}

// Numel returns the number of elements of t's shape (1 for a scalar).
func (t TensorInfo) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Header is a parsed, validated safetensors header: what a file holds,
// without its tensor data.
type Header struct {
	// Name is the path (or the name given to ReadHeaderFrom), used in error
	// messages.
	Name string
	// Tensors lists the tensors in header order.
	Tensors []TensorInfo
	// Metadata is the "__metadata__" map (empty, not nil, when absent).
	Metadata map[string]string
	// DataStart is the file offset of the data section: 8 plus the header
	// length.
	DataStart int64
	// DataSize is the length of the data section, which the tensors cover
	// exactly.
	DataSize int64

	index map[string]int
}

// Get returns the description of the tensor called name.
func (h *Header) Get(name string) (TensorInfo, bool) {
	i, ok := h.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	return h.Tensors[i], true
}

// ReadHeader reads and validates the header of the safetensors file at
// path without reading any tensor data: it reads at most 8+MaxHeader bytes
// whatever the file's size. The validation is the one ReadFile does (the
// offsets are checked against the file's size, so a truncated file or one
// with bytes appended fails here too); only a read error in the data
// section, or a file changed in between, can make ReadFile fail where
// ReadHeader succeeded. Like ReadFile, it refuses anything but a regular
// file before opening it.
func ReadHeader(path string) (*Header, error) {
	fh, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return ReadHeaderFrom(path, fh, size)
}

// ReadHeaderFrom reads and validates the header of the safetensors file of
// the given size that r holds; name stands for its path in error messages.
// No tensor data is read.
func ReadHeaderFrom(name string, r io.ReaderAt, size int64) (*Header, error) {
	fail := func(format string, args ...any) (*Header, error) {
		return nil, &formatError{name, fmt.Sprintf(format, args...)}
	}
	if size < 8 {
		return fail("%d bytes is too short to hold the 8-byte header length (truncated file?)", max(size, 0))
	}
	var lenBuf [8]byte
	if err := readFull(r, lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading the header length: %w", name, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	rest := uint64(size - 8)
	if n > MaxHeader {
		return fail("header length %d is absurd (more than the %d-byte limit); not a safetensors file or corrupt", n, MaxHeader)
	}
	// Only now, with n bounded by both the limit and the bytes present, is
	// it safe to allocate n bytes.
	if n > rest {
		return fail("header length %d exceeds the %d bytes that follow it (truncated file?)", n, rest)
	}
	header := make([]byte, n)
	if err := readFull(r, header, 8); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading the %d-byte header: %w", name, n, err)
	}
	h := &Header{
		Name:      name,
		Metadata:  map[string]string{},
		DataStart: int64(8 + n),
		DataSize:  int64(rest - n),
		index:     map[string]int{},
	}
	if msg := h.decode(header); msg != "" {
		return fail("%s", msg)
	}
	return h, nil
}

// headerEntry is one tensor's description in the JSON header.
type headerEntry struct {
	DType       *string   `json:"dtype"`
	Shape       *[]int64  `json:"shape"`
	DataOffsets *[]uint64 `json:"data_offsets"`
}

// decode parses the JSON header into h, whose DataSize is already set, and
// checks every tensor against it. It returns what is wrong, or "".
func (h *Header) decode(header []byte) string {
	if !utf8.Valid(header) {
		return "header is not valid UTF-8"
	}
	if t := bytes.TrimLeft(header, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return "header is not a JSON object"
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the opening brace, checked above
		return fmt.Sprintf("bad JSON header: %v", err)
	}
	dataSize := uint64(h.DataSize)
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Sprintf("bad JSON header: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Sprintf("bad JSON header: key %v is not a string", tok)
		}
		if seen[key] {
			return fmt.Sprintf("header names %q twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Sprintf("bad JSON header at %q: %v", key, err)
		}
		if key == MetadataKey {
			if err := json.Unmarshal(raw, &h.Metadata); err != nil || h.Metadata == nil {
				return fmt.Sprintf("%s must be an object of string values: %s", MetadataKey, clip(raw))
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Sprintf("tensor %q: bad header entry %s: %v", key, clip(raw), err)
		}
		if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
			return fmt.Sprintf("tensor %q: header entry %s lacks dtype, shape or data_offsets", key, clip(raw))
		}
		dt := DType(*e.DType)
		if dt.Size() == 0 {
			return fmt.Sprintf("tensor %q: unsupported dtype %q (supported: F32, F64, I64)", key, *e.DType)
		}
		offs := *e.DataOffsets
		if len(offs) != 2 {
			return fmt.Sprintf("tensor %q: data_offsets %v must hold two numbers", key, offs)
		}
		begin, end := offs[0], offs[1]
		if begin > end || end > dataSize {
			return fmt.Sprintf("tensor %q: data_offsets [%d, %d] fall outside the %d data bytes (truncated file?)", key, begin, end, dataSize)
		}
		// The byte span is now known to lie within the file, so the element
		// count it implies is bounded; the shape must agree with it exactly,
		// checked by division so that no product can overflow.
		if (end-begin)%uint64(dt.Size()) != 0 {
			return fmt.Sprintf("tensor %q: %d bytes is not a whole number of %s elements", key, end-begin, dt)
		}
		shape, msg := checkShape(*e.Shape, (end-begin)/uint64(dt.Size()))
		if msg != "" {
			return fmt.Sprintf("tensor %q: shape %v %s, but data_offsets [%d, %d] span %d bytes of %s", key, *e.Shape, msg, begin, end, end-begin, dt)
		}
		h.index[key] = len(h.Tensors)
		// end <= dataSize < 2^63, so both offsets fit an int64.
		h.Tensors = append(h.Tensors, TensorInfo{Name: key, DType: dt, Shape: shape, Offsets: [2]int64{int64(begin), int64(end)}})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fmt.Sprintf("bad JSON header: %v", err)
	}
	if rest := strings.TrimSpace(string(header[dec.InputOffset():])); rest != "" {
		return fmt.Sprintf("bad JSON header: %d bytes of trailing data after the object", len(rest))
	}
	return h.checkCoverage()
}

// checkCoverage enforces the rule of the reference implementation: sorted
// by offset, the tensors' spans follow one another with neither gap nor
// overlap and end exactly where the file ends. A hole or trailing bytes
// would be data no tensor owns (a polyglot file, or something appended to
// a checkpoint), an overlap two tensors aliasing the same bytes; both are
// refused rather than guessed at. It returns what is wrong, or "".
func (h *Header) checkCoverage() string {
	order := make([]int, len(h.Tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := h.Tensors[order[a]].Offsets, h.Tensors[order[b]].Offsets
		if x[0] != y[0] {
			return x[0] < y[0]
		}
		return x[1] < y[1]
	})
	var pos int64
	prev := -1
	for _, i := range order {
		t := h.Tensors[i]
		switch begin := t.Offsets[0]; {
		case begin < pos:
			p := h.Tensors[prev]
			return fmt.Sprintf("tensors %q [%d, %d] and %q [%d, %d] overlap", p.Name, p.Offsets[0], p.Offsets[1], t.Name, begin, t.Offsets[1])
		case begin > pos && prev < 0:
			return fmt.Sprintf("data bytes [0, %d) before tensor %q belong to no tensor (a hole; the tensors must cover the data section exactly)", begin, t.Name)
		case begin > pos:
			return fmt.Sprintf("data bytes [%d, %d) between tensors %q and %q belong to no tensor (a hole; the tensors must cover the data section exactly)", pos, begin, h.Tensors[prev].Name, t.Name)
		}
		pos = t.Offsets[1]
		prev = i
	}
	if pos != h.DataSize {
		return fmt.Sprintf("%d trailing bytes after the tensors' data (the data section holds %d bytes, the tensors cover %d); bytes appended to the file, or not a safetensors file", h.DataSize-pos, h.DataSize, pos)
	}
	return ""
}

// readFull reads len(b) bytes at off, treating a short read as an error
// even where the reader reports io.EOF with it.
func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		// A ReaderAt may return io.EOF alongside a full read at the end.
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
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
