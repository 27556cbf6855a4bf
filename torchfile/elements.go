package torchfile

import (
	"encoding/binary"
	"math"

	"github.com/vmdls-go/vmdls/safetensors"
)

// gather copies the numel elements of the strided view (offset, shape,
// stride) of the storage bytes src, of type d, into a new contiguous
// buffer of type out, in row-major order. The view was checked against the
// storage by checkView, so every index lies inside src.
func gather(src []byte, d *dtypeInfo, offset int64, shape, stride []int64, numel int64, out safetensors.DType) []byte {
	dst := make([]byte, numel*int64(out.Size()))
	if numel == 0 {
		return dst
	}
	put := converter(d, out)
	es := int64(d.size)
	osz := int64(out.Size())
	if contiguous(shape, stride) {
		for i := range numel {
			put(dst[i*osz:], src[(offset+i)*es:])
		}
		return dst
	}
	// Walk the multi-index as an odometer, keeping the storage index in
	// step, so that each element costs a few additions.
	idx := make([]int64, len(shape))
	pos := offset
	for i := range numel {
		put(dst[i*osz:], src[pos*es:])
		for k := len(shape) - 1; k >= 0; k-- {
			idx[k]++
			pos += stride[k]
			if idx[k] < shape[k] {
				break
			}
			pos -= stride[k] * shape[k]
			idx[k] = 0
		}
	}
	return dst
}

// contiguous reports whether stride is the row-major stride of shape
// (dimensions of size 1 may have any stride).
func contiguous(shape, stride []int64) bool {
	want := int64(1)
	for k := len(shape) - 1; k >= 0; k-- {
		if shape[k] != 1 && stride[k] != want {
			return false
		}
		want *= shape[k]
	}
	return true
}

// converter returns the function that writes one element of type d, read
// from the start of src, to the start of dst as type out.
func converter(d *dtypeInfo, out safetensors.DType) func(dst, src []byte) {
	le := binary.LittleEndian
	f32 := func(f func([]byte) float32) func(dst, src []byte) {
		return func(dst, src []byte) { le.PutUint32(dst, math.Float32bits(f(src))) }
	}
	i64 := func(f func([]byte) int64) func(dst, src []byte) {
		return func(dst, src []byte) { le.PutUint64(dst, uint64(f(src))) }
	}
	switch d.torch {
	case "float32":
		return func(dst, src []byte) { copy(dst[:4], src[:4]) }
	case "float64":
		if out == safetensors.F64 {
			return func(dst, src []byte) { copy(dst[:8], src[:8]) }
		}
		return f32(func(b []byte) float32 { return float32(math.Float64frombits(le.Uint64(b))) })
	case "float16":
		return f32(func(b []byte) float32 { return halfToFloat(le.Uint16(b)) })
	case "bfloat16":
		return f32(func(b []byte) float32 { return math.Float32frombits(uint32(le.Uint16(b)) << 16) })
	case "int64":
		return func(dst, src []byte) { copy(dst[:8], src[:8]) }
	case "int32":
		return i64(func(b []byte) int64 { return int64(int32(le.Uint32(b))) })
	case "int16":
		return i64(func(b []byte) int64 { return int64(int16(le.Uint16(b))) })
	case "int8":
		return i64(func(b []byte) int64 { return int64(int8(b[0])) })
	case "uint8":
		return i64(func(b []byte) int64 { return int64(b[0]) })
	case "bool":
		return i64(func(b []byte) int64 {
			if b[0] != 0 {
				return 1
			}
			return 0
		})
	}
	panic("torchfile: no conversion from " + d.torch) // storageTypes and this switch list the same types
}

// halfToFloat converts IEEE 754 binary16 bits to the float32 of the same
// value (every half value is exactly a float32).
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN, the payload kept
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: frac × 2^-24, exact in float32.
	f := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}
