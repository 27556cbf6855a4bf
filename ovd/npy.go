package ovd

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vmdls-go/vmdls/data"
)

// The .npy arrays of --features_out: float32 feature matrices (the
// network's own precision, so nothing is rounded), int64 labels and
// float64 reconstruction distances, in NumPy's format 1.0, which
// numpy.load reads. Reading goes through data's parser (ReadNPYFile),
// which checks the header and the payload's size; the decoders below check
// the dtype and shape the feature folder needs.

// npyHeader returns the format 1.0 header of a C-order array: the magic,
// the version, the length and the dictionary, padded with spaces to a
// multiple of 64 bytes and ending in a newline, as NumPy writes it.
func npyHeader(descr string, shape ...int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, tuple)
	pad := 64 - (10+len(dict)+1)%64
	if pad == 64 {
		pad = 0
	}
	dict += strings.Repeat(" ", pad) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(dict)))
	return append(b, dict...)
}

// encodeFloat32Matrix is the .npy file of a rows×cols float32 matrix.
func encodeFloat32Matrix(v []float32, rows, cols int) []byte {
	b := npyHeader("<f4", rows, cols)
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// encodeInt64s is the .npy file of a vector of int64.
func encodeInt64s(v []int) []byte {
	b := npyHeader("<i8", len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(int64(x)))
	}
	return b
}

// encodeFloat64s is the .npy file of a vector of float64.
func encodeFloat64s(v []float64) []byte {
	b := npyHeader("<f8", len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// decodeFloat32Matrix returns the values of a 2-D float32 array, its
// rows and columns; every value must be finite (the features fit Gaussians).
func decodeFloat32Matrix(a *data.NPY, name string) (v []float32, rows, cols int, err error) {
	if a.Descr != "<f4" || len(a.Shape) != 2 {
		return nil, 0, 0, fmt.Errorf("%s: want a 2-D float32 array (<f4), have %s of shape %v", name, a.Descr, a.Shape)
	}
	rows, cols = a.Shape[0], a.Shape[1]
	if int64(len(a.Data)) != 4*int64(rows)*int64(cols) {
		return nil, 0, 0, fmt.Errorf("%s: shape %v needs %d bytes, has %d", name, a.Shape, 4*rows*cols, len(a.Data))
	}
	v = make([]float32, rows*cols)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(a.Data[4*i:]))
		if math.IsNaN(float64(v[i])) || math.IsInf(float64(v[i]), 0) {
			return nil, 0, 0, fmt.Errorf("%s: value %v at row %d, column %d", name, v[i], i/cols, i%cols)
		}
	}
	return v, rows, cols, nil
}

// decodeInt64s returns the values of a 1-D int64 array.
func decodeInt64s(a *data.NPY, name string) ([]int, error) {
	if a.Descr != "<i8" || len(a.Shape) != 1 {
		return nil, fmt.Errorf("%s: want a 1-D int64 array (<i8), have %s of shape %v", name, a.Descr, a.Shape)
	}
	v, err := a.Int64s()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := make([]int, len(v))
	for i, x := range v {
		if x < math.MinInt32 || x > math.MaxInt32 {
			return nil, fmt.Errorf("%s: value %d at %d is out of range", name, x, i)
		}
		out[i] = int(x)
	}
	return out, nil
}

// decodeFloat64s returns the values of a 1-D float64 array, every one
// finite and at least 0 (they are reconstruction distances).
func decodeFloat64s(a *data.NPY, name string) ([]float64, error) {
	if a.Descr != "<f8" || len(a.Shape) != 1 {
		return nil, fmt.Errorf("%s: want a 1-D float64 array (<f8), have %s of shape %v", name, a.Descr, a.Shape)
	}
	n := a.Shape[0]
	if int64(len(a.Data)) != 8*int64(n) {
		return nil, fmt.Errorf("%s: shape %v needs %d bytes, has %d", name, a.Shape, 8*n, len(a.Data))
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(a.Data[8*i:]))
		if !(out[i] >= 0) || math.IsInf(out[i], 0) {
			return nil, fmt.Errorf("%s: value %v at %d; want a finite distance", name, out[i], i)
		}
	}
	return out, nil
}
