package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// MaxIDXBytes bounds the payload an IDX header may announce. The largest
// distributed IDX file (EMNIST by_class training images) holds about 550 MB.
var MaxIDXBytes int64 = 1 << 31

// IDX is a decoded IDX array (the format of MNIST, Fashion-MNIST, KMNIST and
// EMNIST): an element type, dimensions and the raw big-endian payload.
type IDX struct {
	// Type is the IDX element type code: 0x08 uint8, 0x09 int8, 0x0B int16,
	// 0x0C int32, 0x0D float32, 0x0E float64.
	Type byte
	Dims []int
	Data []byte
}

// idxElemSize returns the byte width of an IDX element type, or 0 if unknown.
func idxElemSize(t byte) int {
	switch t {
	case 0x08, 0x09:
		return 1
	case 0x0B:
		return 2
	case 0x0C, 0x0D:
		return 4
	case 0x0E:
		return 8
	}
	return 0
}

// ReadIDXFile reads an IDX file, gunzipping it when it starts with the gzip
// magic.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadIDX(f, path)
}

// ReadIDX reads an IDX array from r, gzipped or raw; name is the file name
// used in errors. The payload must be exactly as long as the header says.
func ReadIDX(r io.Reader, name string) (*IDX, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, wrapErr(name, "bad gzip header", err)
		}
		defer zr.Close()
		src = zr
	}
	var hdr [4]byte
	if _, err := io.ReadFull(src, hdr[:]); err != nil {
		return nil, wrapErr(name, "IDX header truncated", err)
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, formatErr(name, "wrong IDX magic %#x (want 0x0000TTDD)", binary.BigEndian.Uint32(hdr[:]))
	}
	esz := idxElemSize(hdr[2])
	if esz == 0 {
		return nil, formatErr(name, "unknown IDX element type %#x", hdr[2])
	}
	nd := int(hdr[3])
	if nd == 0 {
		return nil, formatErr(name, "IDX array with no dimensions")
	}
	dimBytes := make([]byte, 4*nd)
	if _, err := io.ReadFull(src, dimBytes); err != nil {
		return nil, wrapErr(name, "IDX dimensions truncated", err)
	}
	dims := make([]int, nd)
	size := int64(esz)
	for i := range dims {
		d := binary.BigEndian.Uint32(dimBytes[4*i:])
		if d > 1<<31-1 {
			return nil, formatErr(name, "IDX dimension %d is %d", i, d)
		}
		dims[i] = int(d)
		size *= int64(d)
		if size > MaxIDXBytes {
			return nil, formatErr(name, "IDX header announces more than %d bytes of data (dims %v...)", MaxIDXBytes, dims[:i+1])
		}
	}
	// Read at most one byte past the announced size, growing the buffer as
	// data arrives, so a header that lies costs only what the file holds.
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(src, size+1))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
			return nil, wrapErr(name, "truncated or corrupt compressed data", err)
		}
		return nil, wrapErr(name, "reading IDX data", err)
	}
	if n < size {
		return nil, formatErr(name, "IDX dims %v need %d bytes of data, file has %d", dims, size, n)
	}
	if n > size {
		return nil, formatErr(name, "IDX dims %v need %d bytes of data, file has more", dims, size)
	}
	// Drain to the end so the gzip trailer (CRC, length) is verified.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return nil, wrapErr(name, "corrupt compressed data after the IDX payload", err)
	}
	return &IDX{Type: hdr[2], Dims: dims, Data: buf.Bytes()}, nil
}

// Count returns the first dimension: the number of items.
func (x *IDX) Count() int { return x.Dims[0] }

// ItemSize returns the number of elements per item (product of Dims[1:]).
func (x *IDX) ItemSize() int {
	n := 1
	for _, d := range x.Dims[1:] {
		n *= d
	}
	return n
}
