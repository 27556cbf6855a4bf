package tensor

import (
	"math"

	"github.com/vmdls-go/vmdls/kernels"
)

// cpuStorage is host memory: a plain Go slice, numbered in allocation
// order (for Recycle's mark) and flagged once recycled.
type cpuStorage struct {
	data     []float32
	seq      uint64
	recycled bool
}

// Len implements Storage.
func (s *cpuStorage) Len() int { return len(s.data) }

// cpuSlice returns the host slice a CPU Buf names (capacity capped so that
// appends cannot run into neighbouring views).
func cpuSlice(b Buf) []float32 {
	d := b.S.(*cpuStorage).data
	return d[b.Off : b.Off+b.N : b.Off+b.N]
}

// cpuData returns the whole backing slice of a CPU storage.
func cpuData(s Storage) []float32 { return s.(*cpuStorage).data }

// Work-splitting grains, in elements: below about this much work a chunk is
// not worth handing to another core.
const (
	grainElementwise = 1 << 15
	grainReduce      = 1 << 15
	sumBlock         = 1 << 15 // fixed block of a long single-row sum, so the split never depends on threads
	smallGemm        = 1 << 18 // m*n*k below which batched products are split by batch rather than inside Sgemm
)

// cpuBackend implements Backend with the kernels package.
type cpuBackend struct{}

func (cpuBackend) Name() string { return "cpu" }

func (cpuBackend) Alloc(n int) Storage { return allocCPU(n) }

func (cpuBackend) Upload(dst Buf, src []float32) { copy(cpuSlice(dst), src) }

func (cpuBackend) Download(dst []float32, src Buf) { copy(dst, cpuSlice(src)) }

func (cpuBackend) Fill(dst Buf, v float32) {
	d := cpuSlice(dst)
	kernels.ParallelFor(len(d), grainElementwise*4, func(lo, hi int) {
		s := d[lo:hi]
		for i := range s {
			s[i] = v
		}
	})
}

func (cpuBackend) Copy(dst, src Buf) {
	d, s := cpuSlice(dst), cpuSlice(src)
	kernels.ParallelFor(len(d), grainElementwise*4, func(lo, hi int) { copy(d[lo:hi], s[lo:hi]) })
}

func (cpuBackend) StridedCopy(dst Buf, dstStrides []int, src Buf, srcStrides []int, shape []int) {
	d, s := cpuData(dst.S), cpuData(src.S)
	it := newStridedIter(shape, []int{dst.Off, src.Off}, dstStrides, srcStrides)
	kernels.ParallelFor(it.total, grainElementwise, func(lo, hi int) {
		it.run(lo, hi, func(o []int, n int) {
			ds, ss := it.inner[0], it.inner[1]
			if ds == 1 && ss == 1 {
				copy(d[o[0]:o[0]+n], s[o[1]:o[1]+n])
				return
			}
			di, si := o[0], o[1]
			for range n {
				d[di] = s[si]
				di += ds
				si += ss
			}
		})
	})
}

func (cpuBackend) Unary(op UnaryOp, dst, x Buf, p, q float32) {
	d, s := cpuSlice(dst), cpuSlice(x)
	kernels.ParallelFor(len(d), grainElementwise, func(lo, hi int) {
		unaryRun(op, d[lo:hi], s[lo:hi], p, q)
	})
}

func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// unaryRun applies op to one contiguous run. The transcendental maps other
// than exp and log are evaluated in float64 and rounded once, which keeps
// them within half an ulp or so of the true value.
func unaryRun(op UnaryOp, d, x []float32, p, q float32) {
	switch op {
	case UNeg:
		kernels.Scale(d, -1, x)
	case UExp:
		kernels.Exp(d, x)
	case ULog:
		kernels.Log(d, x)
	case URelu:
		kernels.Relu(d, x)
	case UMulScalar:
		kernels.Scale(d, p, x)
	case UAddScalar:
		kernels.AddScalar(d, p, x)
	case USqrt:
		for i, v := range x {
			d[i] = float32(math.Sqrt(float64(v)))
		}
	case UAbs:
		for i, v := range x {
			d[i] = float32(math.Abs(float64(v)))
		}
	case USigmoid:
		for i, v := range x {
			d[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	case UTanh:
		for i, v := range x {
			d[i] = float32(math.Tanh(float64(v)))
		}
	case USquare:
		for i, v := range x {
			d[i] = v * v
		}
	case UDivScalar:
		for i, v := range x {
			d[i] = v / p
		}
	case UPowScalar:
		if p == 2 {
			for i, v := range x {
				d[i] = v * v
			}
			return
		}
		pp := float64(p)
		for i, v := range x {
			d[i] = float32(math.Pow(float64(v), pp))
		}
	case UClamp:
		for i, v := range x {
			if v == v {
				if v < p {
					v = p
				}
				if v > q {
					v = q
				}
			}
			d[i] = v
		}
	case UGtScalar:
		for i, v := range x {
			d[i] = b2f(v > p)
		}
	case UGeScalar:
		for i, v := range x {
			d[i] = b2f(v >= p)
		}
	case ULtScalar:
		for i, v := range x {
			d[i] = b2f(v < p)
		}
	case ULeScalar:
		for i, v := range x {
			d[i] = b2f(v <= p)
		}
	case UEqScalar:
		for i, v := range x {
			d[i] = b2f(v == p)
		}
	case UNeScalar:
		for i, v := range x {
			d[i] = b2f(v != p)
		}
	default:
		panic("tensor: unknown unary op")
	}
}

// binFunc is the scalar definition of each binary op, used on strided runs
// and for the ops without a vector kernel.
func binFunc(op BinaryOp) func(a, b float32) float32 {
	switch op {
	case BAdd:
		return func(a, b float32) float32 { return a + b }
	case BSub:
		return func(a, b float32) float32 { return a - b }
	case BMul:
		return func(a, b float32) float32 { return a * b }
	case BDiv:
		return func(a, b float32) float32 { return a / b }
	case BPow:
		return func(a, b float32) float32 {
			if b == 2 {
				return a * a
			}
			return float32(math.Pow(float64(a), float64(b)))
		}
	case BMaximum:
		return func(a, b float32) float32 {
			if a != a || a > b {
				return a
			}
			return b
		}
	case BMinimum:
		return func(a, b float32) float32 {
			if a != a || a < b {
				return a
			}
			return b
		}
	case BGt:
		return func(a, b float32) float32 { return b2f(a > b) }
	case BGe:
		return func(a, b float32) float32 { return b2f(a >= b) }
	case BLt:
		return func(a, b float32) float32 { return b2f(a < b) }
	case BLe:
		return func(a, b float32) float32 { return b2f(a <= b) }
	case BEq:
		return func(a, b float32) float32 { return b2f(a == b) }
	case BNe:
		return func(a, b float32) float32 { return b2f(a != b) }
	case BReluBackward:
		return func(g, x float32) float32 {
			if x > 0 {
				return g
			}
			return 0
		}
	}
	panic("tensor: unknown binary op")
}

func (cpuBackend) Binary(op BinaryOp, dst Buf, shape []int, a Buf, aStrides []int, b Buf, bStrides []int) {
	d, ad, bd := cpuData(dst.S), cpuData(a.S), cpuData(b.S)
	f := binFunc(op)
	if isContiguous(aStrides, shape) && isContiguous(bStrides, shape) {
		// Same shape: one flat run, no index arithmetic.
		dr, ar, br := cpuSlice(dst), ad[a.Off:a.Off+dst.N], bd[b.Off:b.Off+dst.N]
		inPlace := dst.S == a.S && dst.Off == a.Off
		if dst.N <= grainElementwise {
			binaryContig(op, f, dr, ar, br, inPlace)
			return
		}
		kernels.ParallelFor(dst.N, grainElementwise, func(lo, hi int) {
			binaryContig(op, f, dr[lo:hi], ar[lo:hi], br[lo:hi], inPlace)
		})
		return
	}
	it := newStridedIter(shape, []int{dst.Off, a.Off, b.Off}, contiguousStrides(shape), aStrides, bStrides)
	sa, sb := it.inner[1], it.inner[2]
	kernels.ParallelFor(it.total, grainElementwise, func(lo, hi int) {
		it.run(lo, hi, func(o []int, n int) {
			dr := d[o[0] : o[0]+n]
			switch {
			case sa == 1 && sb == 1:
				binaryContig(op, f, dr, ad[o[1]:o[1]+n], bd[o[2]:o[2]+n], &d[o[0]] == &ad[o[1]])
			case sa == 1 && sb == 0:
				binaryScalarB(op, f, dr, ad[o[1]:o[1]+n], bd[o[2]])
			case sa == 0 && sb == 1:
				binaryScalarA(op, f, dr, ad[o[1]], bd[o[2]:o[2]+n])
			default:
				ai, bi := o[1], o[2]
				for i := range dr {
					dr[i] = f(ad[ai], bd[bi])
					ai += sa
					bi += sb
				}
			}
		})
	})
}

// isContiguous reports whether strides are the row-major strides of shape
// (axes of size 1 may have any stride).
func isContiguous(strides, shape []int) bool {
	want := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && strides[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// binaryContig handles a run where both operands are contiguous; inPlace
// says d is a itself, where Axpy (y += 1*x, the same rounding as an add) is
// the kernel whose contract covers the aliasing.
func binaryContig(op BinaryOp, f func(a, b float32) float32, d, a, b []float32, inPlace bool) {
	switch op {
	case BAdd:
		if inPlace {
			kernels.Axpy(1, b, d)
		} else {
			kernels.Add(d, a, b)
		}
	case BSub:
		kernels.Sub(d, a, b)
	case BMul:
		kernels.Mul(d, a, b)
	case BDiv:
		kernels.Div(d, a, b)
	case BReluBackward:
		kernels.ReluBackward(d, a, b)
	default:
		for i := range d {
			d[i] = f(a[i], b[i])
		}
	}
}

// binaryScalarB handles a contiguous a against one broadcast value of b
// (the inner run of [N,C,H,W] op [1,C,1,1]).
func binaryScalarB(op BinaryOp, f func(a, b float32) float32, d, a []float32, bv float32) {
	switch op {
	case BAdd:
		kernels.AddScalar(d, bv, a)
	case BSub:
		kernels.AddScalar(d, -bv, a) // a + (-b) rounds exactly as a - b
	case BMul:
		kernels.Scale(d, bv, a)
	default:
		for i := range d {
			d[i] = f(a[i], bv)
		}
	}
}

// binaryScalarA handles one broadcast value of a against a contiguous b.
func binaryScalarA(op BinaryOp, f func(a, b float32) float32, d []float32, av float32, b []float32) {
	switch op {
	case BAdd:
		kernels.AddScalar(d, av, b)
	case BMul:
		kernels.Scale(d, av, b)
	default:
		for i := range d {
			d[i] = f(av, b[i])
		}
	}
}

func (cpuBackend) Where(dst Buf, shape []int, m Buf, mStrides []int, a Buf, aStrides []int, b Buf, bStrides []int) {
	d, md, ad, bd := cpuData(dst.S), cpuData(m.S), cpuData(a.S), cpuData(b.S)
	it := newStridedIter(shape, []int{dst.Off, m.Off, a.Off, b.Off}, contiguousStrides(shape), mStrides, aStrides, bStrides)
	sm, sa, sb := it.inner[1], it.inner[2], it.inner[3]
	kernels.ParallelFor(it.total, grainElementwise, func(lo, hi int) {
		it.run(lo, hi, func(o []int, n int) {
			mi, ai, bi := o[1], o[2], o[3]
			dr := d[o[0] : o[0]+n]
			for i := range dr {
				if md[mi] != 0 {
					dr[i] = ad[ai]
				} else {
					dr[i] = bd[bi]
				}
				mi += sm
				ai += sa
				bi += sb
			}
		})
	})
}

func (cpuBackend) Axpy(alpha float32, x, y Buf) {
	xs, ys := cpuSlice(x), cpuSlice(y)
	kernels.ParallelFor(len(ys), grainElementwise, func(lo, hi int) {
		kernels.Axpy(alpha, xs[lo:hi], ys[lo:hi])
	})
}

// maxRun returns the max (or min) of a contiguous run, NaN if any is NaN.
func maxRun(x []float32, isMax bool) float32 {
	if isMax {
		return kernels.Max(x)
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

func (cpuBackend) Reduce(op ReduceOp, dst Buf, x Buf, outer, axis, inner int) {
	d, xs := cpuSlice(dst), cpuSlice(x)
	if axis == 0 {
		v := float32(0)
		if op == RLogSumExp {
			v = float32(math.Inf(-1))
		}
		for i := range d {
			d[i] = v
		}
		return
	}
	if op == RSum && inner == 1 && axis >= 2*sumBlock {
		// Long rows: sum each in fixed blocks in parallel, then add the
		// block sums in order. The choice depends only on the shape, so
		// the result does not depend on the number of threads.
		nb := (axis + sumBlock - 1) / sumBlock
		part := make([]float64, nb)
		for o := 0; o < outer; o++ {
			row := xs[o*axis : (o+1)*axis]
			kernels.ParallelFor(nb, 1, func(lo, hi int) {
				for blk := lo; blk < hi; blk++ {
					part[blk] = kernels.Sum64(row[blk*sumBlock : min((blk+1)*sumBlock, axis)])
				}
			})
			var s float64
			for _, p := range part {
				s += p
			}
			d[o] = float32(s)
		}
		return
	}
	grain := max(1, grainReduce/axis)
	if inner == 1 {
		kernels.ParallelFor(outer, grain, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				row := xs[o*axis : (o+1)*axis]
				switch op {
				case RSum:
					d[o] = float32(kernels.Sum64(row))
				case RMax, RMin:
					d[o] = maxRun(row, op == RMax)
				case RLogSumExp:
					d[o] = lseRun(row, 0, axis, 1)
				}
			}
		})
		return
	}
	// Strided axis: work on columns (o, i) in flat order, so a chunk is a
	// run of contiguous inner positions read row by row.
	kernels.ParallelFor(outer*inner, grain, func(lo, hi int) {
		var acc []float64
		for c := lo; c < hi; {
			o, i0 := c/inner, c%inner
			i1 := min(inner, i0+hi-c)
			base := o * axis * inner
			out := d[o*inner+i0 : o*inner+i1]
			switch op {
			case RSum:
				acc = append(acc[:0], make([]float64, i1-i0)...)
				for j := 0; j < axis; j++ {
					r := xs[base+j*inner+i0 : base+j*inner+i1]
					for k, v := range r {
						acc[k] += float64(v)
					}
				}
				for k := range out {
					out[k] = float32(acc[k])
				}
			case RMax, RMin:
				copy(out, xs[base+i0:base+i1])
				for j := 1; j < axis; j++ {
					r := xs[base+j*inner+i0 : base+j*inner+i1]
					for k, v := range r {
						if better(v, out[k], op == RMax) {
							out[k] = v
						}
					}
				}
			case RLogSumExp:
				for k := range out {
					out[k] = lseRun(xs, base+i0+k, axis, inner)
				}
			}
			c += i1 - i0
		}
	})
}

func (cpuBackend) ArgReduce(op ReduceOp, dst Buf, idx []int, x Buf, outer, axis, inner int) {
	d, xs := cpuSlice(dst), cpuSlice(x)
	isMax := op == RMax
	kernels.ParallelFor(outer*inner, max(1, grainReduce/axis), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			o, i := c/inner, c%inner
			p := o*axis*inner + i
			m, mi := xs[p], 0
			for j := 1; j < axis; j++ {
				p += inner
				if better(xs[p], m, isMax) {
					m, mi = xs[p], j
				}
			}
			d[c], idx[c] = m, mi
		}
	})
}

func (cpuBackend) Softmax(dst, x Buf, outer, axis, inner int, log bool) {
	d, xs := cpuSlice(dst), cpuSlice(x)
	kernels.ParallelFor(outer*inner, max(1, grainReduce/axis), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			o, i := c/inner, c%inner
			base := o*axis*inner + i
			m := xs[base]
			for j := 1; j < axis; j++ {
				if v := xs[base+j*inner]; better(v, m, true) {
					m = v
				}
			}
			mf := float64(m)
			var s float64
			for j := 0; j < axis; j++ {
				s += math.Exp(float64(xs[base+j*inner]) - mf)
			}
			if log {
				ls := math.Log(s)
				for j := 0; j < axis; j++ {
					p := base + j*inner
					d[p] = float32(float64(xs[p]) - mf - ls)
				}
			} else {
				inv := 1 / s
				for j := 0; j < axis; j++ {
					p := base + j*inner
					d[p] = float32(math.Exp(float64(xs[p])-mf) * inv)
				}
			}
		}
	})
}

func (cpuBackend) Gather(dst, src Buf, outer, axisLen, inner int, idx []int) {
	d, s := cpuSlice(dst), cpuSlice(src)
	rows := outer * len(idx)
	kernels.ParallelFor(rows, max(1, grainElementwise/max(inner, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o, j := r/len(idx), r%len(idx)
			from := (o*axisLen + idx[j]) * inner
			copy(d[r*inner:(r+1)*inner], s[from:from+inner])
		}
	})
}

func (cpuBackend) IndexAdd(dst, src Buf, outer, axisLen, inner int, idx []int) {
	d, s := cpuSlice(dst), cpuSlice(src)
	// Repeated indices hit the same rows, so only the outer blocks, which
	// are disjoint, are split over cores.
	kernels.ParallelFor(outer, max(1, grainElementwise/max(len(idx)*inner, 1)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			for j, id := range idx {
				to := (o*axisLen + id) * inner
				from := (o*len(idx) + j) * inner
				kernels.Axpy(1, s[from:from+inner], d[to:to+inner])
			}
		}
	})
}

func (cpuBackend) Gemm(transA, transB bool, m, n, k int, alpha float32,
	a Storage, aOffs []int, lda int, b Storage, bOffs []int, ldb int,
	beta float32, c Storage, cOffs []int, ldc int) {
	ad, bd, cd := cpuData(a), cpuData(b), cpuData(c)
	if m == 0 || n == 0 {
		return
	}
	// Sgemm follows BLAS for k == 0 (C = beta*C without reading A or B).
	one := func(i int) {
		kernels.Sgemm(transA, transB, m, n, k, alpha, ad[aOffs[i]:], lda, bd[bOffs[i]:], ldb, beta, cd[cOffs[i]:], ldc)
	}
	// A large product is split over the cores inside Sgemm, so batches run
	// one after another; many small products (attention-like shapes) are
	// instead spread over the cores a batch at a time.
	if work := m * n * max(k, 1); len(cOffs) > 1 && work < smallGemm {
		kernels.ParallelFor(len(cOffs), max(1, smallGemm/work), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				one(i)
			}
		})
		return
	}
	for i := range cOffs {
		one(i)
	}
}
