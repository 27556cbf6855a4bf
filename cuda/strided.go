package cuda

// maxDim is VM_MAXDIM of kernels.cu: the most axes a strided kernel takes.
const maxDim = 6

// coalesce simplifies a strided iteration over shape, with one stride list
// per operand, into an equivalent one with fewer axes: axes of size 1 are
// dropped and an axis merges into the next when, for every operand, stepping
// it equals stepping the next one through its whole size. The row-major
// order of the visited offsets is unchanged. A result with no axes is a
// single element; a zero size anywhere is left for the caller (nothing to
// do).
func coalesce(shape []int, strides ...[]int) (cShape []int, cStrides [][]int) {
	cStrides = make([][]int, len(strides))
	for d, s := range shape {
		if s == 1 {
			continue
		}
		last := len(cShape) - 1
		merge := last >= 0
		for k := range strides {
			if merge && cStrides[k][last] != strides[k][d]*s {
				merge = false
			}
		}
		if merge {
			cShape[last] *= s
			for k := range strides {
				cStrides[k][last] = strides[k][d]
			}
			continue
		}
		cShape = append(cShape, s)
		for k := range strides {
			cStrides[k] = append(cStrides[k], strides[k][d])
		}
	}
	return cShape, cStrides
}

// isContig reports whether a coalesced stride list walks memory in order.
func isContig(cShape, cStrides []int) bool {
	return len(cShape) == 0 || (len(cShape) == 1 && cStrides[0] == 1)
}

// padDims widens a coalesced list to maxDim kernel arguments (unused axes
// get size 1 and stride 0, which vm_offset skips over harmlessly).
func padDims(v []int, fill int) [maxDim]int64 {
	var r [maxDim]int64
	for i := range r {
		if i < len(v) {
			r[i] = int64(v[i])
		} else {
			r[i] = int64(fill)
		}
	}
	return r
}
