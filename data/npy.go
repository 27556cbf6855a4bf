package data

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// MaxNPYBytes bounds the payload an .npy header may announce (the element
// size times the product of the shape's non-zero dimensions). The largest
// array this package reads, Omniglot's background images, is 212 MB.
var MaxNPYBytes int64 = 1 << 32

// maxNPYHeader bounds the header dictionary; NumPy itself writes a few
// hundred bytes and refuses to read more than 10,000 by default.
const maxNPYHeader = 1 << 16

// NPYHeader is the parsed header of a NumPy .npy array.
type NPYHeader struct {
	// Descr is the dtype string, e.g. "|u1", "|b1", "<i8", "<f4".
	Descr string
	// Shape is the array shape (C order); an empty shape is a scalar.
	Shape []int
}

// ElemSize returns the byte width of one element.
func (h *NPYHeader) ElemSize() int { return npyElemSize(h.Descr) }

// Numel returns the number of elements, or -1 when a dimension is negative
// or their product overflows an int64 (never so for a header ReadNPYHeader
// returned).
func (h *NPYHeader) Numel() int64 {
	n, ok := shapeBytes(1, h.Shape, math.MaxInt64)
	if !ok {
		return -1
	}
	return n
}

// dataBytes returns the payload size, or -1 as Numel does.
func (h *NPYHeader) dataBytes() int64 {
	n, ok := shapeBytes(int64(h.ElemSize()), h.Shape, math.MaxInt64)
	if !ok {
		return -1
	}
	return n
}

// shapeBytes returns elem times the product of dims and whether elem times
// the product of the non-zero dims is at most limit, multiplying without
// overflow (math/bits). Bounding the non-zero dims, not the product, means
// a zero dimension cannot make absurd others pass; every partial product of
// an accepted shape then fits in an int64 too, so callers may multiply
// sub-shapes (e.g. Shape[0]*Shape[1]) safely. Negative dims fail.
func shapeBytes(elem int64, dims []int, limit int64) (size int64, ok bool) {
	if elem < 0 || limit < 0 {
		return 0, false
	}
	p, zero := uint64(elem), false
	for _, d := range dims {
		switch {
		case d < 0:
			return 0, false
		case d == 0:
			zero = true
			continue
		}
		hi, lo := bits.Mul64(p, uint64(d))
		if hi != 0 || lo > uint64(limit) {
			return 0, false
		}
		p = lo
	}
	if p > uint64(limit) {
		return 0, false
	}
	if zero {
		return 0, true
	}
	return int64(p), true
}

// npyElemSize gives the width of the little-endian or byte dtypes this
// reader supports, 0 for the rest (big-endian, strings, objects...).
func npyElemSize(descr string) int {
	switch descr {
	case "|b1", "|u1", "|i1", "<b1", "<u1", "<i1":
		return 1
	case "<u2", "<i2", "<f2":
		return 2
	case "<u4", "<i4", "<f4":
		return 4
	case "<u8", "<i8", "<f8":
		return 8
	}
	return 0
}

// NPY is a whole .npy array: its header and raw little-endian payload.
type NPY struct {
	NPYHeader
	Data []byte
}

// Int64s returns the payload of an integer array as int64 values. An NPY
// whose Data does not match its shape and dtype is an error.
func (a *NPY) Int64s() ([]int64, error) {
	if npyElemSize(a.Descr) == 0 || a.dataBytes() < 0 || int64(len(a.Data)) != a.dataBytes() {
		return nil, fmt.Errorf("data: npy shape %v dtype %s does not match its %d data bytes", a.Shape, a.Descr, len(a.Data))
	}
	n := int(a.Numel())
	out := make([]int64, n)
	switch a.Descr {
	case "<i8", "<u8":
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(a.Data[8*i:]))
		}
	case "<i4":
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(a.Data[4*i:])))
		}
	case "|u1", "<u1", "|b1", "<b1":
		for i := range out {
			out[i] = int64(a.Data[i])
		}
	case "|i1", "<i1":
		for i := range out {
			out[i] = int64(int8(a.Data[i]))
		}
	default:
		return nil, fmt.Errorf("data: npy dtype %s is not an integer type this reader converts", a.Descr)
	}
	return out, nil
}

// ReadNPYHeader parses the header of an .npy stream and leaves r at the first
// data byte. name is used in errors. Only C-order arrays of the dtypes
// npyElemSize knows are accepted, with a shape whose size (see MaxNPYBytes)
// is checked without overflow, so Numel and products of its dimensions are
// safe to compute.
func ReadNPYHeader(r io.Reader, name string) (*NPYHeader, error) {
	h, _, err := readNPYHeader(r, name)
	return h, err
}

// readNPYHeader is ReadNPYHeader that also returns the header's length in
// bytes (magic and length fields included), i.e. where the data starts.
func readNPYHeader(r io.Reader, name string) (*NPYHeader, int64, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return nil, 0, wrapErr(name, "npy header truncated", err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, 0, formatErr(name, "not an npy file (magic %q)", pre[:6])
	}
	var hlen, fixed int
	switch pre[6] {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return nil, 0, wrapErr(name, "npy header truncated", err)
		}
		hlen, fixed = int(binary.LittleEndian.Uint16(pre[8:10])), 10
	case 2, 3:
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return nil, 0, wrapErr(name, "npy header truncated", err)
		}
		v := binary.LittleEndian.Uint32(l[:])
		if v > maxNPYHeader {
			return nil, 0, formatErr(name, "npy header of %d bytes is too long", v)
		}
		hlen, fixed = int(v), 12
	default:
		return nil, 0, formatErr(name, "unsupported npy version %d.%d", pre[6], pre[7])
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, 0, wrapErr(name, "npy header truncated", err)
	}
	h, err := parseNPYDict(string(hb))
	if err != nil {
		return nil, 0, wrapErr(name, "bad npy header", err)
	}
	if npyElemSize(h.Descr) == 0 {
		return nil, 0, formatErr(name, "unsupported npy dtype %q", h.Descr)
	}
	// Multiplying first and comparing after would let (2^32, 2^31) of |u1
	// wrap to a negative size and pass.
	if _, ok := shapeBytes(int64(npyElemSize(h.Descr)), h.Shape, MaxNPYBytes); !ok {
		return nil, 0, formatErr(name, "npy shape %v announces more than %d bytes%s", h.Shape, MaxNPYBytes, zeroDimNote(h.Shape))
	}
	return h, int64(fixed + hlen), nil
}

// zeroDimNote explains a refused shape whose product is zero.
func zeroDimNote(shape []int) string {
	for _, d := range shape {
		if d == 0 {
			return " (counting only its non-zero dimensions)"
		}
	}
	return ""
}

// parseNPYDict parses the Python dict literal of an npy header:
// {'descr': '<i8', 'fortran_order': False, 'shape': (3, 4), }
func parseNPYDict(s string) (*NPYHeader, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("header is not a dict: %q", s)
	}
	body := s[1 : len(s)-1]
	h := &NPYHeader{}
	var haveDescr, haveOrder, haveShape bool
	for len(strings.TrimSpace(body)) > 0 {
		body = strings.TrimSpace(body)
		key, rest, err := pyString(body)
		if err != nil {
			return nil, err
		}
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, ":") {
			return nil, fmt.Errorf("missing ':' after key %q", key)
		}
		rest = strings.TrimSpace(rest[1:])
		switch key {
		case "descr":
			v, r2, err := pyString(rest)
			if err != nil {
				return nil, fmt.Errorf("descr: %v", err)
			}
			h.Descr, rest, haveDescr = v, r2, true
		case "fortran_order":
			switch {
			case strings.HasPrefix(rest, "False"):
				rest = rest[5:]
			case strings.HasPrefix(rest, "True"):
				return nil, fmt.Errorf("fortran_order arrays are not supported")
			default:
				return nil, fmt.Errorf("fortran_order is not a bool")
			}
			haveOrder = true
		case "shape":
			if !strings.HasPrefix(rest, "(") {
				return nil, fmt.Errorf("shape is not a tuple")
			}
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return nil, fmt.Errorf("unterminated shape tuple")
			}
			for _, f := range strings.Split(rest[1:end], ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				f = strings.TrimSuffix(f, "L")
				d, err := strconv.Atoi(f)
				if err != nil || d < 0 || d > 1<<40 {
					return nil, fmt.Errorf("bad shape entry %q", f)
				}
				h.Shape = append(h.Shape, d)
			}
			rest, haveShape = rest[end+1:], true
		default:
			return nil, fmt.Errorf("unknown key %q", key)
		}
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, ",") {
			rest = rest[1:]
		} else if strings.TrimSpace(rest) != "" {
			return nil, fmt.Errorf("expected ',' in header near %q", rest)
		}
		body = rest
	}
	if !haveDescr || !haveOrder || !haveShape {
		return nil, fmt.Errorf("header lacks descr, fortran_order or shape")
	}
	return h, nil
}

// pyString reads a single- or double-quoted Python string literal without
// escapes at the start of s.
func pyString(s string) (string, string, error) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", "", fmt.Errorf("expected a quoted string near %q", s)
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", "", fmt.Errorf("unterminated string")
	}
	return s[1 : 1+end], s[2+end:], nil
}

// ReadNPY reads a whole .npy array from r; name is used in errors. The data
// must be exactly as long as the header says. The buffer is allocated once
// enough data has arrived (see readSized), so a header announcing more than
// r holds costs a bounded multiple of what r holds, not what it says.
func ReadNPY(r io.Reader, name string) (*NPY, error) {
	h, _, err := readNPYHeader(r, name)
	if err != nil {
		return nil, err
	}
	return readNPYData(r, h, name)
}

// readNPYData reads the payload of an array whose header was read from r.
func readNPYData(r io.Reader, h *NPYHeader, name string) (*NPY, error) {
	size := h.dataBytes()
	b, n, more, err := readSized(r, size)
	if err != nil {
		return nil, wrapErr(name, "reading npy data", err)
	}
	if n < size {
		return nil, formatErr(name, "npy shape %v dtype %s needs %d data bytes, file has %d", h.Shape, h.Descr, size, n)
	}
	if more {
		return nil, formatErr(name, "npy shape %v dtype %s needs %d data bytes, file has more", h.Shape, h.Descr, size)
	}
	return &NPY{NPYHeader: *h, Data: b}, nil
}

// ReadNPYFile reads an .npy file. Its size must be exactly what the header
// announces, which is checked before the data is read. A path that is not a
// regular file (a FIFO, a device) is an error naming it.
func ReadNPYFile(path string) (*NPY, error) {
	f, st, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	h, hlen, err := readNPYHeader(br, path)
	if err != nil {
		return nil, err
	}
	if have, size := st.Size()-hlen, h.dataBytes(); have != size {
		return nil, formatErr(path, "npy shape %v dtype %s needs %d data bytes, file has %d", h.Shape, h.Descr, size, have)
	}
	return readNPYData(br, h, path)
}

// NPZ is an opened .npz archive (a zip of .npy members).
type NPZ struct {
	name string
	zr   *zip.Reader
	// size is the archive's length, which bounds what a member can hold.
	size int64
	c    io.Closer
}

// OpenNPZ opens an .npz file; Close releases it. A path that is not a
// regular file (a FIFO, a device) is an error naming it.
func OpenNPZ(path string) (*NPZ, error) {
	f, st, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, wrapErr(path, "not a readable npz (zip) archive", err)
	}
	return &NPZ{name: path, zr: zr, size: st.Size(), c: f}, nil
}

// NewNPZ reads an .npz archive from r (size bytes); name is used in errors.
func NewNPZ(r io.ReaderAt, size int64, name string) (*NPZ, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, wrapErr(name, "not a readable npz (zip) archive", err)
	}
	return &NPZ{name: name, zr: zr, size: size}, nil
}

// Close releases the file behind an NPZ opened with OpenNPZ.
func (z *NPZ) Close() error {
	if z.c != nil {
		return z.c.Close()
	}
	return nil
}

// Names lists the arrays in the archive (member names without ".npy").
func (z *NPZ) Names() []string {
	var out []string
	for _, f := range z.zr.File {
		out = append(out, strings.TrimSuffix(f.Name, ".npy"))
	}
	return out
}

// Open opens array key (with or without ".npy") and returns its header and
// a reader positioned at its data, which the caller closes. Before it
// returns, the header's size is checked against the zip entry's declared
// size, and that against what the archive can hold (see checkZipSizes), so
// a header that lies is an error here, before any data is read. The reader
// never yields more than the header's size, so a member that expands past
// its header is an error, not a memory bomb.
func (z *NPZ) Open(key string) (*NPYHeader, io.ReadCloser, error) {
	want := strings.TrimSuffix(key, ".npy") + ".npy"
	for _, f := range z.zr.File {
		if f.Name != want {
			continue
		}
		member := z.name + ":" + want
		if err := checkZipSizes(f, z.size, member); err != nil {
			return nil, nil, err
		}
		rc, err := f.Open()
		if err != nil {
			return nil, nil, wrapErr(member, "cannot open npz member", err)
		}
		br := bufio.NewReaderSize(rc, 1<<16)
		h, hlen, err := readNPYHeader(br, member)
		if err != nil {
			rc.Close()
			return nil, nil, err
		}
		size := h.dataBytes()
		switch entry, need := f.UncompressedSize64, uint64(hlen)+uint64(size); {
		case entry < need:
			rc.Close()
			return nil, nil, formatErr(member, "npz member is shorter than its header's shape: %s %v needs %d data bytes, the zip entry holds %d", h.Descr, h.Shape, size, entry-uint64(hlen))
		case entry > need:
			rc.Close()
			return nil, nil, formatErr(member, "npz member has more data than its header's shape: %s %v needs %d data bytes, the zip entry holds %d", h.Descr, h.Shape, size, entry-uint64(hlen))
		}
		return h, &npzData{r: br, c: rc, left: size, name: member}, nil
	}
	return nil, nil, formatErr(z.name, "npz has no array %q (has %v)", key, z.Names())
}

// Header returns the header of array key without reading its data, so a
// caller can check shapes against each other (and what the dataset can
// be) before reading any array.
func (z *NPZ) Header(key string) (*NPYHeader, error) {
	h, rc, err := z.Open(key)
	if err != nil {
		return nil, err
	}
	rc.Close()
	return h, nil
}

// Read reads a whole array from the archive into a buffer of exactly its
// size. Read trusts the shape as far as Open checks it: an array that
// cannot be part of the dataset (labels for more images than there are)
// should be refused from its Header before Read is called.
func (z *NPZ) Read(key string) (*NPY, error) {
	h, rc, err := z.Open(key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	name := z.name + ":" + strings.TrimSuffix(key, ".npy") + ".npy"
	size := h.dataBytes()
	b, n, more, err := readSized(rc, size)
	if err != nil {
		return nil, err
	}
	if n != size || more {
		return nil, formatErr(name, "npy shape %v needs %d data bytes, member has %d", h.Shape, size, n)
	}
	return &NPY{NPYHeader: *h, Data: b}, nil
}

// npzData yields exactly the announced payload of one member and reports a
// member that is shorter or longer.
type npzData struct {
	r    io.Reader
	c    io.Closer
	left int64
	name string
}

// Read yields the member's data, failing if it ends early or runs long.
func (d *npzData) Read(p []byte) (int, error) {
	if d.left == 0 {
		// The member must end here; reading on to its end also makes
		// archive/zip verify the member's CRC.
		var one [1]byte
		n, err := io.ReadFull(d.r, one[:])
		switch {
		case n > 0:
			return 0, formatErr(d.name, "npz member has more data than its header's shape")
		case err != nil && err != io.EOF:
			return 0, wrapErr(d.name, "corrupt npz member", err)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > d.left {
		p = p[:d.left]
	}
	n, err := d.r.Read(p)
	d.left -= int64(n)
	if err == io.EOF && d.left > 0 {
		return n, formatErr(d.name, "npz member is shorter than its header's shape (%d bytes missing)", d.left)
	}
	if err != nil && err != io.EOF {
		return n, wrapErr(d.name, "corrupt npz member", err)
	}
	return n, nil
}

// Close closes the zip member.
func (d *npzData) Close() error { return d.c.Close() }
