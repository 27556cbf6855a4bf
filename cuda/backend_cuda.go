//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/vmdls-go/vmdls/tensor"
)

func init() { tensor.RegisterBackend(Device, backend{}) }

// devStorage is a tensor's device buffer. Its block goes back to the cache
// when autograd recycles the storage (tensor.RecyclableStorage) or, failing
// that, when the garbage collector's cleanup finds it unreachable;
// whichever comes first returns it, once.
type devStorage struct {
	ptr uintptr
	n   int
	seq uint64
	blk *block // nil for an empty storage
}

// Len implements tensor.Storage.
func (s *devStorage) Len() int { return s.n }

// SetSeq implements tensor.RecyclableStorage.
func (s *devStorage) SetSeq(seq uint64) { s.seq = seq }

// Seq implements tensor.RecyclableStorage.
func (s *devStorage) Seq() uint64 { return s.seq }

// Recycle implements tensor.RecyclableStorage: with release the block
// returns to the cache now. Later kernels may reuse it at once because all
// work is on one stream, behind every kernel that still reads this storage.
func (s *devStorage) Recycle(release bool) {
	s.seq = 0
	if release && s.blk != nil {
		s.blk.giveBack()
	}
}

// block is a device allocation and who gets it back.
type block struct {
	ptr      uintptr
	class    int
	alloc    *cachingAlloc
	returned atomic.Bool
}

// giveBack returns the block to its cache unless that happened already.
func (b *block) giveBack() {
	if b.returned.CompareAndSwap(false, true) {
		b.alloc.put(b.ptr, b.class)
	}
}

// addr is the device address of a Buf's first element.
func addr(b tensor.Buf) uint64 { return uint64(b.S.(*devStorage).ptr) + uint64(b.Off)*4 }

func ival(v int) uint64          { return uint64(int64(v)) }
func fval(v float32) uint64      { return math.Float64bits(float64(v)) }
func dptr(a uint64) cu.DevicePtr { return cu.DevicePtr(uintptr(a)) }

// backend implements tensor.Backend on the GPU: every primitive is a
// kernel or a cuBLAS call on device memory (the neural-network ones in
// nnops_cuda.go), so no op round-trips its data through the host.
type backend struct{}

func (backend) Name() string { return "cuda:0" }

func (backend) Alloc(n int) tensor.Storage { return alloc(n, true) }

// AllocUninit is tensor's fast path for outputs an op overwrites whole: no
// memset.
func (backend) AllocUninit(n int) tensor.Storage { return alloc(n, false) }

func alloc(n int, zero bool) tensor.Storage {
	g := mustGPU()
	if n == 0 {
		return &devStorage{}
	}
	if g.alloc.needGC(n * 4) {
		// Unreachable tensors hold device blocks their cleanups return;
		// device bytes, not the Go heap, say when to find them.
		runtime.GC()
		g.alloc.collected()
	}
	b := &block{alloc: g.alloc}
	get := func() error {
		return g.do(func() error {
			var err error
			if b.ptr, b.class, err = g.alloc.get(n * 4); err != nil {
				return err
			}
			if !zero {
				return nil
			}
			return cuErr("cuMemsetD32", cu.MemsetD32(cu.DevicePtr(b.ptr), 0, int64(n)))
		})
	}
	err := get()
	if isOOM(err) {
		// Unreachable tensors may still hold blocks: collect them, let
		// their cleanups return the blocks, and try once more.
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
		err = get()
	}
	must(err)
	s := &devStorage{ptr: b.ptr, n: n, blk: b}
	// The cleanup's argument is the block, which the storage points to but
	// which does not point back, so the storage can become unreachable.
	runtime.AddCleanup(s, (*block).giveBack, b)
	return s
}

func (backend) Upload(dst tensor.Buf, src []float32) {
	if len(src) == 0 {
		return
	}
	transfers.up(len(src) * 4)
	g := mustGPU()
	must(g.do(func() error {
		return cuErr("cuMemcpyHtoD", cu.MemcpyHtoD(dptr(addr(dst)), unsafe.Pointer(&src[0]), int64(len(src))*4))
	}))
}

func (backend) Download(dst []float32, src tensor.Buf) {
	if len(dst) == 0 {
		return
	}
	transfers.down(len(dst) * 4)
	g := mustGPU()
	must(g.do(func() error {
		return cuErr("cuMemcpyDtoH", cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), dptr(addr(src)), int64(len(dst))*4))
	}))
}

func (backend) Fill(dst tensor.Buf, v float32) {
	g := mustGPU()
	must(g.do(func() error { return g.launch("vm_fill", dst.N, addr(dst), ival(dst.N), fval(v)) }))
}

func (backend) Copy(dst, src tensor.Buf) {
	g := mustGPU()
	must(g.do(func() error {
		return cuErr("cuMemcpyDtoD", cu.MemcpyDtoD(dptr(addr(dst)), dptr(addr(src)), int64(dst.N)*4))
	}))
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// dimArgs appends the coalesced sizes and strides as kernel arguments.
func dimArgs(args []uint64, shape []int, strides [][]int) []uint64 {
	if len(shape) > maxDim {
		panic(fmt.Errorf("cuda: strided op over %d axes that do not merge; the kernels take at most %d", len(shape), maxDim))
	}
	args = append(args, ival(len(shape)))
	for _, v := range padDims(shape, 1) {
		args = append(args, uint64(v))
	}
	for _, s := range strides {
		for _, v := range padDims(s, 0) {
			args = append(args, uint64(v))
		}
	}
	return args
}

func contiguous(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

func (backend) StridedCopy(dst tensor.Buf, dstStrides []int, src tensor.Buf, srcStrides []int, shape []int) {
	n := numel(shape)
	if n == 0 {
		return
	}
	sh, st := coalesce(shape, dstStrides, srcStrides)
	g := mustGPU()
	args := dimArgs([]uint64{addr(dst), addr(src), ival(n)}, sh, st)
	must(g.do(func() error { return g.launch("vm_strided_copy", n, args...) }))
}

func (backend) Unary(op tensor.UnaryOp, dst, x tensor.Buf, p, q float32) {
	g := mustGPU()
	must(g.do(func() error {
		return g.launch(unaryKernel(op), dst.N, addr(dst), addr(x), ival(dst.N), fval(p), fval(q))
	}))
}

func (backend) Binary(op tensor.BinaryOp, dst tensor.Buf, shape []int, a tensor.Buf, aStrides []int, b tensor.Buf, bStrides []int) {
	n := numel(shape)
	if n == 0 {
		return
	}
	sh, st := coalesce(shape, contiguous(shape), aStrides, bStrides)
	g := mustGPU()
	if isContig(sh, st[1]) && isContig(sh, st[2]) {
		must(g.do(func() error { return g.launch(binaryKernel(op), n, addr(dst), addr(a), addr(b), ival(n)) }))
		return
	}
	args := dimArgs([]uint64{addr(dst), addr(a), addr(b), ival(n)}, sh, st[1:])
	must(g.do(func() error { return g.launch(binaryStridedKernel(op), n, args...) }))
}

func (backend) Where(dst tensor.Buf, shape []int, m tensor.Buf, mStrides []int, a tensor.Buf, aStrides []int, b tensor.Buf, bStrides []int) {
	n := numel(shape)
	if n == 0 {
		return
	}
	sh, st := coalesce(shape, mStrides, aStrides, bStrides)
	g := mustGPU()
	args := dimArgs([]uint64{addr(dst), addr(m), addr(a), addr(b), ival(n)}, sh, st)
	must(g.do(func() error { return g.launch("vm_where", n, args...) }))
}

func (backend) Axpy(alpha float32, x, y tensor.Buf) {
	g := mustGPU()
	must(g.do(func() error { return g.launch("vm_axpy", y.N, addr(y), addr(x), ival(y.N), fval(alpha)) }))
}

// useBlockReduce picks one block per output for long axes with few outputs,
// where one thread per output would leave the GPU idle.
func useBlockReduce(outer, axis, inner int) bool { return axis >= 1024 && outer*inner <= 1<<16 }

func (backend) Reduce(op tensor.ReduceOp, dst, x tensor.Buf, outer, axis, inner int) {
	nout := outer * inner
	if nout == 0 {
		return
	}
	g := mustGPU()
	must(g.do(func() error {
		if useBlockReduce(outer, axis, inner) {
			return g.launchGrid(reduceKernel(op, true), nout, addr(dst), addr(x), ival(outer), ival(axis), ival(inner))
		}
		return g.launch(reduceKernel(op, false), nout, addr(dst), addr(x), ival(outer), ival(axis), ival(inner))
	}))
}

func (backend) Gemm(transA, transB bool, m, n, k int, alpha float32,
	a tensor.Storage, aOffs []int, lda int, b tensor.Storage, bOffs []int, ldb int,
	beta float32, c tensor.Storage, cOffs []int, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	g := mustGPU()
	as, bs, cs := a.(*devStorage), b.(*devStorage), c.(*devStorage)
	if k == 0 {
		// C = beta*C row by row (C's rows may be strided); cuBLAS would
		// need non-empty A and B slices.
		must(g.do(func() error {
			for _, co := range cOffs {
				for r := range m {
					p := uint64(cs.ptr) + uint64(co+r*ldc)*4
					var err error
					if beta == 0 {
						err = g.launch("vm_fill", n, p, ival(n), fval(0))
					} else {
						err = g.launch(unaryKernel(tensor.UMulScalar), n, p, p, ival(n), fval(beta), 0)
					}
					if err != nil {
						return err
					}
				}
			}
			return nil
		}))
		return
	}
	must(g.do(func() error {
		for i := range cOffs {
			pa := uint64(as.ptr) + uint64(aOffs[i])*4
			pb := uint64(bs.ptr) + uint64(bOffs[i])*4
			pc := uint64(cs.ptr) + uint64(cOffs[i])*4
			if err := g.rowGemm(transA, transB, m, n, k, alpha, pa, as.n-aOffs[i], lda,
				pb, bs.n-bOffs[i], ldb, beta, pc, cs.n-cOffs[i], ldc); err != nil {
				return err
			}
		}
		return nil
	}))
}
