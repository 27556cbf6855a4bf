package data

import (
	"bytes"
	"io"
)

// CIFAR binary batches hold fixed-size records: label byte(s) then a
// 32x32 RGB image stored planar (1024 red, 1024 green, 1024 blue bytes).
const (
	cifarPixels    = 3 * 32 * 32
	cifar10Record  = 1 + cifarPixels
	cifar100Record = 2 + cifarPixels
)

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
// errors. The length must be a whole number of records.
func ReadCIFARBatch(r io.Reader, name string, cifar100 bool, into *CIFARBatch) (*CIFARBatch, error) {
	rec := cifar10Record
	nClasses := 10
	if cifar100 {
		rec, nClasses = cifar100Record, 100
	}
	if into == nil {
		into = &CIFARBatch{}
	}
	var buf bytes.Buffer
	// A batch file is 30,730,000 bytes at most (10,000 records); refuse
	// anything far larger instead of buffering it.
	const maxBatch = 60000 * cifar100Record
	n, err := io.Copy(&buf, io.LimitReader(r, maxBatch+1))
	if err != nil {
		return nil, wrapErr(name, "reading CIFAR batch", err)
	}
	if n > maxBatch {
		return nil, formatErr(name, "larger than any CIFAR batch (%d bytes or more)", n)
	}
	if n == 0 {
		return nil, formatErr(name, "empty CIFAR batch")
	}
	if n%int64(rec) != 0 {
		return nil, formatErr(name, "size %d is not a whole number of %d-byte CIFAR records", n, rec)
	}
	data := buf.Bytes()
	count := int(n) / rec
	for i := 0; i < count; i++ {
		r := data[i*rec : (i+1)*rec]
		fine := int(r[rec-cifarPixels-1])
		if fine >= nClasses {
			return nil, formatErr(name, "record %d has label %d, want < %d", i, fine, nClasses)
		}
		if cifar100 {
			coarse := int(r[0])
			if coarse >= 20 {
				return nil, formatErr(name, "record %d has coarse label %d, want < 20", i, coarse)
			}
			into.Coarse = append(into.Coarse, coarse)
		}
		into.Labels = append(into.Labels, fine)
		into.Pix = append(into.Pix, r[rec-cifarPixels:]...)
	}
	return into, nil
}
