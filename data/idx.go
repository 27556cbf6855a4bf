package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"io"
)

// MaxIDXBytes bounds the payload an IDX header may announce (the element
// size times the product of the non-zero dimensions). The largest
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
// magic. The header's size is checked against the file's before the data
// is read: a raw file must be exactly as long as its header says, and a
// gzipped one short enough for deflate to expand to it. A path that is not
// a regular file (a FIFO, a device) is an error naming it.
func ReadIDXFile(path string) (*IDX, error) {
	f, st, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readIDX(f, path, st.Size(), false)
}

// ReadIDXFileHeader reads only the header of an IDX file, checked as
// ReadIDXFile checks it (against the file's size too), and returns it as an
// IDX with Type and Dims set and Data nil. It lets a caller check two files
// against each other, e.g. that a label file has as many labels as the
// image file has images, before reading either one's data.
func ReadIDXFileHeader(path string) (*IDX, error) {
	f, st, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readIDX(f, path, st.Size(), true)
}

// ReadIDX reads an IDX array from r, gzipped or raw; name is the file name
// used in errors. The payload must be exactly as long as the header says.
// The buffer is allocated once enough data has arrived (see readSized), so
// a header announcing more than r holds costs a bounded multiple of what r
// holds.
func ReadIDX(r io.Reader, name string) (*IDX, error) {
	return readIDX(r, name, -1, false)
}

// readIDX is ReadIDX for a stream of fileSize bytes (-1: unknown); with
// headerOnly it stops after the header's checks.
func readIDX(r io.Reader, name string, fileSize int64, headerOnly bool) (*IDX, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	gzipped := false
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, wrapErr(name, "bad gzip header", err)
		}
		defer zr.Close()
		src, gzipped = zr, true
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
	for i := range dims {
		d := binary.BigEndian.Uint32(dimBytes[4*i:])
		if d > 1<<31-1 {
			return nil, formatErr(name, "IDX dimension %d is %d", i, d)
		}
		dims[i] = int(d)
	}
	// Products are checked without overflow, over the non-zero dimensions
	// (see shapeBytes), so Count, ItemSize and products of dims are safe.
	size, ok := shapeBytes(int64(esz), dims, MaxIDXBytes)
	if !ok {
		return nil, formatErr(name, "IDX header announces more than %d bytes of data (dims %v)%s", MaxIDXBytes, dims, zeroDimNote(dims))
	}
	// Refuse a size the file cannot hold before allocating for it.
	if hdrLen := int64(4 + 4*nd); fileSize >= 0 {
		switch {
		case !gzipped && fileSize-hdrLen < size:
			return nil, formatErr(name, "IDX dims %v need %d bytes of data, file has %d", dims, size, fileSize-hdrLen)
		case !gzipped && fileSize-hdrLen > size:
			return nil, formatErr(name, "IDX dims %v need %d bytes of data, file has more", dims, size)
		case gzipped && hdrLen+size > maxInflated(fileSize):
			return nil, formatErr(name, "IDX dims %v need %d bytes of data, more than a %d-byte gzip file can expand to", dims, size, fileSize)
		}
	}
	if headerOnly {
		return &IDX{Type: hdr[2], Dims: dims}, nil
	}
	// Reading on past the payload (readSized's check for more) also makes
	// gzip verify its trailer (CRC, length).
	b, n, more, err := readSized(src, size)
	if err != nil {
		if gzipped && isCorruptStream(err) {
			return nil, wrapErr(name, "truncated or corrupt compressed data", err)
		}
		return nil, wrapErr(name, "reading IDX data", err)
	}
	if n < size {
		return nil, formatErr(name, "IDX dims %v need %d bytes of data, file has %d", dims, size, n)
	}
	if more {
		return nil, formatErr(name, "IDX dims %v need %d bytes of data, file has more", dims, size)
	}
	return &IDX{Type: hdr[2], Dims: dims, Data: b}, nil
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
