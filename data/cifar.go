package data

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"slices"
)

// CIFAR binary batches hold fixed-size records: label byte(s) then a
// 32x32 RGB image stored planar (1024 red, 1024 green, 1024 blue bytes).
const (
	cifarPixels    = 3 * 32 * 32
	cifar10Record  = 1 + cifarPixels
	cifar100Record = 2 + cifarPixels
)

// maxCIFARBatch bounds one batch: CIFAR-10's files hold 10,000 records and
// CIFAR-100's train.bin 50,000 (153,700,000 bytes); anything far larger is
// refused rather than read.
const maxCIFARBatch = 60000 * cifar100Record

// CIFARBatch is the decoded content of one or more CIFAR binary batch files.
type CIFARBatch struct {
	// Pix holds N images of 3x32x32 bytes, planar CHW, one after another.
	Pix []uint8
	// Labels are the CIFAR-10 labels or the CIFAR-100 fine labels.
	Labels []int
	// Coarse are the CIFAR-100 coarse (superclass) labels; nil for CIFAR-10.
	Coarse []int
}

// Len returns the number of images.
func (b *CIFARBatch) Len() int { return len(b.Labels) }

// ReadCIFARBatch decodes a CIFAR-10 (cifar100 false: 3073-byte records) or
// CIFAR-100 (cifar100 true: 3074-byte records, coarse then fine label)
// binary batch from r, appending to into when it is not nil. name is used in
// errors. The length must be a whole number of records, and every label a
// CIFAR label. Records are decoded as they are read, so the batch is never
// held twice; on an error into is left as it was.
func ReadCIFARBatch(r io.Reader, name string, cifar100 bool, into *CIFARBatch) (*CIFARBatch, error) {
	rec := cifar10Record
	nClasses := 10
	if cifar100 {
		rec, nClasses = cifar100Record, 100
	}
	if into == nil {
		into = &CIFARBatch{}
	}
	p0, l0, c0 := len(into.Pix), len(into.Labels), len(into.Coarse)
	fail := func(err error) (*CIFARBatch, error) {
		into.Pix, into.Labels, into.Coarse = into.Pix[:p0], into.Labels[:l0], into.Coarse[:c0]
		return nil, err
	}
	// Where the length is known (a file, an in-memory reader), make room
	// for the whole batch at once instead of growing by appends.
	if n := sizeHint(r); n > 0 && n <= maxCIFARBatch && n%int64(rec) == 0 {
		k := int(n) / rec
		into.Pix = slices.Grow(into.Pix, k*cifarPixels)
		into.Labels = slices.Grow(into.Labels, k)
		if cifar100 {
			into.Coarse = slices.Grow(into.Coarse, k)
		}
	}
	br := bufio.NewReaderSize(r, 1<<16)
	buf := make([]byte, rec)
	var n int64
	for i := 0; ; i++ {
		k, err := io.ReadFull(br, buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fail(formatErr(name, "size %d is not a whole number of %d-byte CIFAR records", n, rec))
		}
		if err != nil {
			return fail(wrapErr(name, "reading CIFAR batch", err))
		}
		if n > maxCIFARBatch {
			return fail(formatErr(name, "larger than any CIFAR batch (%d bytes or more)", n))
		}
		fine := int(buf[rec-cifarPixels-1])
		if fine >= nClasses {
			return fail(formatErr(name, "record %d has label %d, want < %d", i, fine, nClasses))
		}
		if cifar100 {
			coarse := int(buf[0])
			if coarse >= 20 {
				return fail(formatErr(name, "record %d has coarse label %d, want < 20", i, coarse))
			}
			into.Coarse = append(into.Coarse, coarse)
		}
		into.Labels = append(into.Labels, fine)
		into.Pix = append(into.Pix, buf[rec-cifarPixels:]...)
	}
	if n == 0 {
		return fail(formatErr(name, "empty CIFAR batch"))
	}
	return into, nil
}

// ReadCIFARFile reads a CIFAR binary batch file (data_batch_1.bin ...,
// test.bin) like ReadCIFARBatch. Its size is checked before it is read, and
// a path that is not a regular file (a FIFO, a device) is an error naming
// it.
func ReadCIFARFile(path string, cifar100 bool, into *CIFARBatch) (*CIFARBatch, error) {
	f, st, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rec := int64(cifar10Record)
	if cifar100 {
		rec = cifar100Record
	}
	switch n := st.Size(); {
	case n > maxCIFARBatch:
		return nil, formatErr(path, "larger than any CIFAR batch (%d bytes)", n)
	case n%rec != 0:
		return nil, formatErr(path, "size %d is not a whole number of %d-byte CIFAR records", n, rec)
	}
	return ReadCIFARBatch(f, path, cifar100, into)
}

// sizeHint returns how many bytes r holds when it can tell (an in-memory
// reader, a regular file), or -1.
func sizeHint(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case interface{ Stat() (fs.FileInfo, error) }:
		if st, err := v.Stat(); err == nil && st.Mode().IsRegular() {
			return st.Size()
		}
	}
	return -1
}
