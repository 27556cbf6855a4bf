package tensor

import (
	"github.com/vmdls-go/vmdls/kernels"
	"github.com/vmdls-go/vmdls/parallel"
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
	smallGemm        = 1 << 18 // m*n*k below which batched products are split by batch rather than inside Sgemm
)

// cpuBackend implements Backend with the kernels package, and only adapts:
// it turns Bufs into slices, walks strided views run by run and splits the
// elementwise runs over the worker pool. The arithmetic, and the work split
// of the primitives whose results depend on it (sums, statistics), is in
// kernels, beside the SIMD code it calls, so that CPU compute lives in one
// package while tensor's other backends (cuda) sit beside it, not inside
// tensor.
type cpuBackend struct{}

func (cpuBackend) Name() string { return "cpu" }

func (cpuBackend) Alloc(n int) Storage { return allocCPU(n, true) }

func (cpuBackend) AllocUninit(n int) Storage { return allocCPU(n, false) }

func (cpuBackend) Upload(dst Buf, src []float32) { copy(cpuSlice(dst), src) }

func (cpuBackend) Download(dst []float32, src Buf) { copy(dst, cpuSlice(src)) }

func (cpuBackend) Fill(dst Buf, v float32) {
	d := cpuSlice(dst)
	parallel.For(len(d), grainElementwise*4, func(lo, hi int) { kernels.Fill(d[lo:hi], v) })
}

func (cpuBackend) Copy(dst, src Buf) {
	d, s := cpuSlice(dst), cpuSlice(src)
	parallel.For(len(d), grainElementwise*4, func(lo, hi int) { copy(d[lo:hi], s[lo:hi]) })
}

func (cpuBackend) StridedCopy(dst Buf, dstStrides []int, src Buf, srcStrides []int, shape []int) {
	d, s := cpuData(dst.S), cpuData(src.S)
	it := newStridedIter(shape, []int{dst.Off, src.Off}, dstStrides, srcStrides)
	parallel.For(it.total, grainElementwise, func(lo, hi int) {
		it.run(lo, hi, func(o []int, n int) {
			kernels.CopyStrided(d[o[0]:], it.inner[0], s[o[1]:], it.inner[1], n)
		})
	})
}

func (cpuBackend) Unary(op UnaryOp, dst, x Buf, p, q float32) {
	d, s := cpuSlice(dst), cpuSlice(x)
	parallel.For(len(d), grainElementwise, func(lo, hi int) {
		kernels.Unary(op, d[lo:hi], s[lo:hi], p, q)
	})
}

func (cpuBackend) Binary(op BinaryOp, dst Buf, shape []int, a Buf, aStrides []int, b Buf, bStrides []int) {
	d, ad, bd := cpuData(dst.S), cpuData(a.S), cpuData(b.S)
	if isContiguous(aStrides, shape) && isContiguous(bStrides, shape) {
		// Same shape: one flat run, no index arithmetic.
		dr, ar, br := cpuSlice(dst), ad[a.Off:a.Off+dst.N], bd[b.Off:b.Off+dst.N]
		if dst.N <= grainElementwise {
			kernels.Binary(op, dr, ar, br)
			return
		}
		parallel.For(dst.N, grainElementwise, func(lo, hi int) {
			kernels.Binary(op, dr[lo:hi], ar[lo:hi], br[lo:hi])
		})
		return
	}
	it := newStridedIter(shape, []int{dst.Off, a.Off, b.Off}, contiguousStrides(shape), aStrides, bStrides)
	sa, sb := it.inner[1], it.inner[2]
	parallel.For(it.total, grainElementwise, func(lo, hi int) {
		it.run(lo, hi, func(o []int, n int) {
			dr := d[o[0] : o[0]+n]
			switch {
			case sa == 1 && sb == 1:
				kernels.Binary(op, dr, ad[o[1]:], bd[o[2]:])
			case sa == 1 && sb == 0:
				kernels.BinaryScalarB(op, dr, ad[o[1]:], bd[o[2]])
			case sa == 0 && sb == 1:
				kernels.BinaryScalarA(op, dr, ad[o[1]], bd[o[2]:])
			default:
				kernels.BinaryStrided(op, dr, ad[o[1]:], sa, bd[o[2]:], sb)
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

func (cpuBackend) Where(dst Buf, shape []int, m Buf, mStrides []int, a Buf, aStrides []int, b Buf, bStrides []int) {
	d, md, ad, bd := cpuData(dst.S), cpuData(m.S), cpuData(a.S), cpuData(b.S)
	it := newStridedIter(shape, []int{dst.Off, m.Off, a.Off, b.Off}, contiguousStrides(shape), mStrides, aStrides, bStrides)
	sm, sa, sb := it.inner[1], it.inner[2], it.inner[3]
	parallel.For(it.total, grainElementwise, func(lo, hi int) {
		it.run(lo, hi, func(o []int, n int) {
			kernels.Select(d[o[0]:o[0]+n], md[o[1]:], sm, ad[o[2]:], sa, bd[o[3]:], sb)
		})
	})
}

func (cpuBackend) Axpy(alpha float32, x, y Buf) {
	xs, ys := cpuSlice(x), cpuSlice(y)
	parallel.For(len(ys), grainElementwise, func(lo, hi int) {
		kernels.Axpy(alpha, xs[lo:hi], ys[lo:hi])
	})
}

func (cpuBackend) Reduce(op ReduceOp, dst Buf, x Buf, outer, axis, inner int) {
	kernels.Reduce(op, cpuSlice(dst), cpuSlice(x), outer, axis, inner)
}

func (cpuBackend) ArgReduce(op ReduceOp, dst Buf, idx []int, x Buf, outer, axis, inner int) {
	kernels.ArgReduce(op, cpuSlice(dst), idx, cpuSlice(x), outer, axis, inner)
}

func (cpuBackend) Softmax(dst, x Buf, outer, axis, inner int, log bool) {
	kernels.Softmax(cpuSlice(dst), cpuSlice(x), outer, axis, inner, log)
}

func (cpuBackend) Gather(dst, src Buf, outer, axisLen, inner int, idx []int) {
	kernels.Gather(cpuSlice(dst), cpuSlice(src), outer, axisLen, inner, idx)
}

func (cpuBackend) IndexAdd(dst, src Buf, outer, axisLen, inner int, idx []int) {
	kernels.IndexAdd(cpuSlice(dst), cpuSlice(src), outer, axisLen, inner, idx)
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
		parallel.For(len(cOffs), max(1, smallGemm/work), func(lo, hi int) {
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

func (cpuBackend) SGDStep(p, g, buf Buf, o SGDOptions) {
	var b []float32
	if buf.S != nil {
		b = cpuSlice(buf)
	}
	kernels.SGDStep(cpuSlice(p), cpuSlice(g), b, o)
}

func (cpuBackend) Dropout(dst, x Buf, seed uint64, p, scale float32) {
	kernels.Dropout(cpuSlice(dst), cpuSlice(x), seed, p, scale)
}

func (cpuBackend) AdamStep(p, g, m, v, vmax Buf, o AdamOptions) {
	var vm []float32
	if vmax.S != nil {
		vm = cpuSlice(vmax)
	}
	kernels.AdamStep(cpuSlice(p), cpuSlice(g), cpuSlice(m), cpuSlice(v), vm, o)
}
