package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType names an element type as the safetensors header spells it.
type DType string

// The element types this package reads and writes.
const (
	F32 DType = "F32"
	F64 DType = "F64"
	I64 DType = "I64"
)

// Size returns the bytes per element of d, or 0 for a dtype this package
// does not support.
func (d DType) Size() int {
	switch d {
	case F32:
		return 4
	case F64, I64:
		return 8
	}
	return 0
}

// MetadataKey is the reserved header entry that holds string metadata
// rather than a tensor.
const MetadataKey = "__metadata__"

// Tensor is one named tensor: its element type, its shape and its raw
// little-endian bytes. Tensors returned by Parse share the bytes given to
// it; treat Data as read-only.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Numel returns the number of elements of t's shape (1 for a scalar).
func (t Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// FromFloat32 makes an F32 tensor holding a copy of v in the given shape.
// It panics if len(v) does not match the shape: that is a programming error,
// not a property of a file.
func FromFloat32(name string, shape []int, v []float32) Tensor {
	t := newTensor(name, F32, shape, len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(x))
	}
	return t
}

// FromFloat64 makes an F64 tensor holding a copy of v in the given shape.
func FromFloat64(name string, shape []int, v []float64) Tensor {
	t := newTensor(name, F64, shape, len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(t.Data[8*i:], math.Float64bits(x))
	}
	return t
}

// FromInt64 makes an I64 tensor holding a copy of v in the given shape.
func FromInt64(name string, shape []int, v []int64) Tensor {
	t := newTensor(name, I64, shape, len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(t.Data[8*i:], uint64(x))
	}
	return t
}

func newTensor(name string, d DType, shape []int, n int) Tensor {
	t := Tensor{Name: name, DType: d, Shape: append([]int{}, shape...)}
	if t.Numel() != n {
		panic(fmt.Sprintf("safetensors: %s: %d values do not fill shape %v", name, n, shape))
	}
	t.Data = make([]byte, n*d.Size())
	return t
}

// Float32s decodes an F32 tensor's values into a new slice.
func (t Tensor) Float32s() ([]float32, error) {
	if err := t.want(F32); err != nil {
		return nil, err
	}
	out := make([]float32, len(t.Data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// Float64s decodes an F64 tensor's values into a new slice.
func (t Tensor) Float64s() ([]float64, error) {
	if err := t.want(F64); err != nil {
		return nil, err
	}
	out := make([]float64, len(t.Data)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// Int64s decodes an I64 tensor's values into a new slice.
func (t Tensor) Int64s() ([]int64, error) {
	if err := t.want(I64); err != nil {
		return nil, err
	}
	out := make([]int64, len(t.Data)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

func (t Tensor) want(d DType) error {
	if t.DType != d {
		return fmt.Errorf("safetensors: tensor %q is %s, not %s", t.Name, t.DType, d)
	}
	if len(t.Data) != t.Numel()*d.Size() {
		return fmt.Errorf("safetensors: tensor %q holds %d bytes, its shape %v needs %d", t.Name, len(t.Data), t.Shape, t.Numel()*d.Size())
	}
	return nil
}
