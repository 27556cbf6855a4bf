package safetensors

import (
	"fmt"
	"io"
	"math"
)

// File is a parsed, validated safetensors file held in memory.
type File struct {
	// Name is the path (or the name given to Parse or ReadFrom), used in
	// error messages.
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

// ReadFile reads and validates the safetensors file at path. Anything but
// a regular file (a directory, a FIFO, a device, a socket) is refused
// before it is opened, so a stray FIFO cannot block the read forever. The
// header is read and validated first (see ReadHeader); then each tensor's
// bytes are read into an allocation of its own size, so memory use is the
// tensors' total size, never more than the file holds, and a file with
// trailing bytes, holes or overlaps is refused without reading its data.
func ReadFile(path string) (*File, error) {
	fh, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return ReadFrom(path, fh, size)
}

// ReadFrom reads and validates the safetensors file of the given size that
// r holds; name stands for its path in error messages. It reads the header,
// then each tensor's span, as ReadFile does; the returned tensors do not
// share memory with r.
func ReadFrom(name string, r io.ReaderAt, size int64) (*File, error) {
	h, err := ReadHeaderFrom(name, r, size)
	if err != nil {
		return nil, err
	}
	f := &File{Name: name, Metadata: h.Metadata, index: h.index, Tensors: make([]Tensor, len(h.Tensors))}
	if h.DataSize > 0 {
		// Probe the last byte before allocating anything: a reader shorter
		// than the size claimed for it (a file truncated since it was
		// stat'ed) fails here rather than after allocating its tensors.
		var last [1]byte
		if err := readFull(r, last[:], h.DataStart+h.DataSize-1); err != nil {
			return nil, fmt.Errorf("safetensors: %s: the data section should end at byte %d: %w", name, h.DataStart+h.DataSize, err)
		}
	}
	for i, t := range h.Tensors {
		n := t.Offsets[1] - t.Offsets[0]
		if uint64(n) > math.MaxInt {
			return nil, &formatError{name, fmt.Sprintf("tensor %q: %d bytes cannot be held in memory", t.Name, n)}
		}
		b := make([]byte, n)
		if err := readFull(r, b, h.DataStart+t.Offsets[0]); err != nil {
			return nil, fmt.Errorf("safetensors: %s: reading tensor %q (%d bytes at offset %d): %w", name, t.Name, n, h.DataStart+t.Offsets[0], err)
		}
		f.Tensors[i] = Tensor{Name: t.Name, DType: t.DType, Shape: t.Shape, Data: b}
	}
	return f, nil
}

// Parse validates a safetensors file already in memory; name stands for its
// path in error messages. The validation is ReadFile's; the returned
// tensors share b.
func Parse(name string, b []byte) (*File, error) {
	h, err := ReadHeaderFrom(name, bytesReaderAt(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	f := &File{Name: name, Metadata: h.Metadata, index: h.index, Tensors: make([]Tensor, len(h.Tensors))}
	for i, t := range h.Tensors {
		// The offsets were validated against len(b).
		begin, end := h.DataStart+t.Offsets[0], h.DataStart+t.Offsets[1]
		f.Tensors[i] = Tensor{Name: t.Name, DType: t.DType, Shape: t.Shape, Data: b[begin:end:end]}
	}
	return f, nil
}

// bytesReaderAt reads a byte slice in place; unlike bytes.Reader it needs no
// allocation of its own.
type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
