package tensor

// stridedIter walks the elements of a shape in row-major order for several
// operands at once, each with its own strides, handing out runs along the
// innermost axis. Axes of size 1 are dropped and adjacent axes that are
// contiguous with each other in every operand are merged first, so a
// same-shape op is one long run, [N,C]+[C] is N runs of C contiguous pairs,
// and [N,C,H,W]+[1,C,1,1] is N*C runs of H*W values against one scalar.
type stridedIter struct {
	shape   []int   // merged outer axes (the innermost axis excluded)
	strides [][]int // per operand, for the merged outer axes
	inner   []int   // per operand, the stride along the innermost axis
	base    []int   // per operand, the starting offset
	n       int     // length of the innermost axis
	total   int     // elements in all
}

func newStridedIter(shape []int, base []int, strides ...[]int) *stridedIter {
	k := len(strides)
	it := &stridedIter{base: base, inner: make([]int, k), strides: make([][]int, k), total: numelOf(shape)}
	// Merge from the innermost axis outwards into (size, strides) axes.
	var sizes []int
	var st [][]int // st[axis][operand], innermost first
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] == 1 {
			continue
		}
		if len(sizes) > 0 {
			last := len(sizes) - 1
			merge := true
			for o := 0; o < k; o++ {
				if strides[o][d] != st[last][o]*sizes[last] {
					merge = false
					break
				}
			}
			if merge {
				sizes[last] *= shape[d]
				continue
			}
		}
		s := make([]int, k)
		for o := 0; o < k; o++ {
			s[o] = strides[o][d]
		}
		sizes = append(sizes, shape[d])
		st = append(st, s)
	}
	if len(sizes) == 0 { // a single element
		it.n = 1
		return it
	}
	it.n = sizes[0]
	copy(it.inner, st[0])
	for a := len(sizes) - 1; a >= 1; a-- {
		it.shape = append(it.shape, sizes[a])
	}
	for o := 0; o < k; o++ {
		for a := len(sizes) - 1; a >= 1; a-- {
			it.strides[o] = append(it.strides[o], st[a][o])
		}
	}
	return it
}

// run calls fn(offsets, n) for the runs covering elements [lo, hi) of the
// row-major order; offsets[o] is operand o's offset of the run's first
// element and successive elements are it.inner[o] apart. fn may be called
// concurrently for disjoint ranges.
func (it *stridedIter) run(lo, hi int, fn func(offs []int, n int)) {
	if lo >= hi {
		return
	}
	k := len(it.base)
	row, col := lo/it.n, lo%it.n
	idx := make([]int, len(it.shape))
	rowOff := make([]int, k)
	copy(rowOff, it.base)
	for a := len(it.shape) - 1; a >= 0; a-- {
		idx[a] = row % it.shape[a]
		row /= it.shape[a]
		for o := 0; o < k; o++ {
			rowOff[o] += idx[a] * it.strides[o][a]
		}
	}
	offs := make([]int, k)
	for pos := lo; ; {
		m := min(it.n-col, hi-pos)
		for o := 0; o < k; o++ {
			offs[o] = rowOff[o] + col*it.inner[o]
		}
		fn(offs, m)
		pos += m
		if pos >= hi {
			return
		}
		col = 0
		for a := len(it.shape) - 1; a >= 0; a-- {
			idx[a]++
			for o := 0; o < k; o++ {
				rowOff[o] += it.strides[o][a]
			}
			if idx[a] < it.shape[a] {
				break
			}
			idx[a] = 0
			for o := 0; o < k; o++ {
				rowOff[o] -= it.shape[a] * it.strides[o][a]
			}
		}
	}
}
