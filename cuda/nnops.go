package cuda

import (
	"fmt"

	"github.com/vmdls-go/vmdls/tensor"
)

// The host-side arithmetic of the neural-network primitives (nnops_cuda.go):
// how many images one convolution chunk takes, and the index layouts the
// kernels read.

// colChunkFloats bounds the im2col buffer of one convolution chunk (256 MiB):
// enough images per chunk that each SGEMM fills the GPU, few enough that a
// large batch does not need gigabytes of scratch. The self-test lowers it to
// exercise the several-chunk path on small inputs.
var colChunkFloats = 1 << 26

// convChunk is the number of images whose columns fit in colChunkFloats
// (at least one, at most the batch).
func convChunk(p tensor.ConvParams) int {
	per := max(p.C*p.KH*p.KW*p.OH*p.OW, 1)
	return min(max(colChunkFloats/per, 1), max(p.N, 1))
}

// toInt32 converts host indices to the int32 the kernels read.
func toInt32(idx []int) []int32 {
	r := make([]int32, len(idx))
	for i, v := range idx {
		r[i] = int32(v)
	}
	return r
}

// indexCSR groups the positions j of idx by their destination idx[j], the
// layout vm_index_add reads so that each destination element sums its
// sources itself (no atomics): the positions of destination a are
// pos[start[a]:start[a+1]], in increasing j, which is the order in which
// the CPU's IndexAdd adds them. An index outside [0, axisLen) panics.
func indexCSR(idx []int, axisLen int) (start, pos []int32) {
	start = make([]int32, axisLen+1)
	for _, a := range idx {
		if a < 0 || a >= axisLen {
			panic(fmt.Sprintf("cuda: IndexAdd index %d outside [0, %d)", a, axisLen))
		}
		start[a+1]++
	}
	for a := range axisLen {
		start[a+1] += start[a]
	}
	pos = make([]int32, len(idx))
	next := append([]int32(nil), start[:axisLen]...)
	for j, a := range idx {
		pos[next[a]] = int32(j)
		next[a]++
	}
	return start, pos
}
