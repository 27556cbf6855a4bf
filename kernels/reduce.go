package kernels

import (
	"math"

	"github.com/vmdls-go/vmdls/parallel"
)

// Reductions, softmax and row gathers over a row-major [outer, axis, inner]
// block, working along the middle axis and writing a row-major [outer,
// inner] result (the layout of tensor's Backend). Unlike the elementwise
// maps they split their own work over the worker pool: how a sum is cut
// into blocks is part of its result, so the cut is fixed here, by the shape
// alone, and never by the number of threads.

const (
	// grainReduce is the least number of elements a chunk of reduction
	// work should read to be worth handing to another core.
	grainReduce = 1 << 15
	// sumBlock is the fixed block of a long single-row sum.
	sumBlock = 1 << 15
	// grainRows is the least number of elements a chunk of row copies
	// should move.
	grainRows = 1 << 15
)

// maxRun returns the max (or min) of a contiguous run, NaN if any is NaN.
func maxRun(x []float32, isMax bool) float32 {
	if isMax {
		return Max(x)
	}
	m := x[0]
	for _, v := range x {
		if v != v {
			return v
		}
		if v < m {
			m = v
		}
	}
	return m
}

// better reports whether v replaces the current max (or min) m: strictly
// larger (smaller), or the first NaN.
func better(v, m float32, isMax bool) bool {
	if v != v {
		return m == m
	}
	if isMax {
		return v > m
	}
	return v < m
}

// lseRun is log Σ exp over a strided run, shifted by its max (0 if the max
// is infinite, so all -Inf gives -Inf and +Inf gives +Inf, as torch does).
func lseRun(x []float32, off, n, stride int) float32 {
	m := x[off]
	for j, p := 1, off+stride; j < n; j, p = j+1, p+stride {
		if better(x[p], m, true) {
			m = x[p]
		}
	}
	shift := float64(m)
	if math.IsInf(shift, 0) {
		shift = 0
	}
	var s float64
	for j, p := 0, off; j < n; j, p = j+1, p+stride {
		s += math.Exp(float64(x[p]) - shift)
	}
	return float32(math.Log(s) + shift)
}

// Reduce sets dst[o*inner+i] to op over x[o, :, i] for the [outer, axis,
// inner] block x. Sums accumulate in float64 and round once; a long single
// row (inner 1, axis at least 2*sumBlock) is summed in fixed blocks in
// parallel whose sums are then added in order, so that no result depends
// on the number of threads. An empty axis gives 0 (-Inf for RLogSumExp).
func Reduce(op ReduceOp, dst, x []float32, outer, axis, inner int) {
	if axis == 0 {
		v := float32(0)
		if op == RLogSumExp {
			v = float32(math.Inf(-1))
		}
		Fill(dst[:outer*inner], v)
		return
	}
	if op == RSum && inner == 1 && axis >= 2*sumBlock {
		nb := (axis + sumBlock - 1) / sumBlock
		part := make([]float64, nb)
		for o := 0; o < outer; o++ {
			row := x[o*axis : (o+1)*axis]
			parallel.For(nb, 1, func(lo, hi int) {
				for blk := lo; blk < hi; blk++ {
					part[blk] = Sum64(row[blk*sumBlock : min((blk+1)*sumBlock, axis)])
				}
			})
			var s float64
			for _, p := range part {
				s += p
			}
			dst[o] = float32(s)
		}
		return
	}
	grain := max(1, grainReduce/axis)
	if inner == 1 {
		parallel.For(outer, grain, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				row := x[o*axis : (o+1)*axis]
				switch op {
				case RSum:
					dst[o] = float32(Sum64(row))
				case RMax, RMin:
					dst[o] = maxRun(row, op == RMax)
				case RLogSumExp:
					dst[o] = lseRun(row, 0, axis, 1)
				}
			}
		})
		return
	}
	// Strided axis: work on columns (o, i) in flat order, so a chunk is a
	// run of contiguous inner positions read row by row.
	parallel.For(outer*inner, grain, func(lo, hi int) {
		var acc []float64
		for c := lo; c < hi; {
			o, i0 := c/inner, c%inner
			i1 := min(inner, i0+hi-c)
			base := o * axis * inner
			out := dst[o*inner+i0 : o*inner+i1]
			switch op {
			case RSum:
				acc = append(acc[:0], make([]float64, i1-i0)...)
				for j := 0; j < axis; j++ {
					r := x[base+j*inner+i0 : base+j*inner+i1]
					for k, v := range r {
						acc[k] += float64(v)
					}
				}
				for k := range out {
					out[k] = float32(acc[k])
				}
			case RMax, RMin:
				copy(out, x[base+i0:base+i1])
				for j := 1; j < axis; j++ {
					r := x[base+j*inner+i0 : base+j*inner+i1]
					for k, v := range r {
						if better(v, out[k], op == RMax) {
							out[k] = v
						}
					}
				}
			case RLogSumExp:
				for k := range out {
					out[k] = lseRun(x, base+i0+k, axis, inner)
				}
			}
			c += i1 - i0
		}
	})
}

// ArgReduce sets dst[c] and idx[c] to the max (op RMax) or min (RMin) of
// x[o, :, i] and the first position that holds it, c = o*inner+i; a NaN
// wins over any number, the first NaN over later ones. The axis is not
// empty.
func ArgReduce(op ReduceOp, dst []float32, idx []int, x []float32, outer, axis, inner int) {
	isMax := op == RMax
	parallel.For(outer*inner, max(1, grainReduce/axis), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			o, i := c/inner, c%inner
			p := o*axis*inner + i
			m, mi := x[p], 0
			for j := 1; j < axis; j++ {
				p += inner
				if better(x[p], m, isMax) {
					m, mi = x[p], j
				}
			}
			dst[c], idx[c] = m, mi
		}
	})
}

// Softmax sets dst to the softmax (log-softmax when log is set) of the
// [outer, axis, inner] block x along its middle axis, shifted by each
// row's max and summed in float64.
func Softmax(dst, x []float32, outer, axis, inner int, log bool) {
	parallel.For(outer*inner, max(1, grainReduce/axis), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			o, i := c/inner, c%inner
			base := o*axis*inner + i
			m := x[base]
			for j := 1; j < axis; j++ {
				if v := x[base+j*inner]; better(v, m, true) {
					m = v
				}
			}
			mf := float64(m)
			var s float64
			for j := 0; j < axis; j++ {
				s += math.Exp(float64(x[base+j*inner]) - mf)
			}
			if log {
				ls := math.Log(s)
				for j := 0; j < axis; j++ {
					p := base + j*inner
					dst[p] = float32(float64(x[p]) - mf - ls)
				}
			} else {
				inv := 1 / s
				for j := 0; j < axis; j++ {
					p := base + j*inner
					dst[p] = float32(math.Exp(float64(x[p])-mf) * inv)
				}
			}
		}
	})
}

// Gather copies the rows idx of each of outer blocks of axisLen rows of
// inner floats in src to dst, an [outer, len(idx), inner] block.
func Gather(dst, src []float32, outer, axisLen, inner int, idx []int) {
	rows := outer * len(idx)
	parallel.For(rows, max(1, grainRows/max(inner, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o, j := r/len(idx), r%len(idx)
			from := (o*axisLen + idx[j]) * inner
			copy(dst[r*inner:(r+1)*inner], src[from:from+inner])
		}
	})
}

// IndexAdd adds each row j of the [outer, len(idx), inner] block src into
// row idx[j] of dst's outer blocks of axisLen rows, in the order of idx
// (repeated indices add up).
func IndexAdd(dst, src []float32, outer, axisLen, inner int, idx []int) {
	// Repeated indices hit the same rows, so only the outer blocks, which
	// are disjoint, are split over cores.
	parallel.For(outer, max(1, grainRows/max(len(idx)*inner, 1)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			for j, id := range idx {
				to := (o*axisLen + id) * inner
				from := (o*len(idx) + j) * inner
				Axpy(1, src[from:from+inner], dst[to:to+inner])
			}
		}
	})
}
