//go:build cuda

package cuda

import (
	"unsafe"

	"gorgonia.org/cu"

	"github.com/vmdls-go/vmdls/tensor"
)

// The neural-network primitives of the backend: convolution as im2col or
// col2im around cuBLAS SGEMM, pooling, batch normalization, softmax,
// arg-reductions, gathers and indexed adds, each a kernel of kernels_nn.cu.
// None of them copies tensor data to or from the host; the index arrays of
// Gather, IndexAdd and ArgReduce, which the Backend interface keeps in host
// []int, are the only transfers (a few bytes per row, not activations).

// scratch is a device block borrowed from the caching allocator for the
// duration of one op. Returning it right after the op's launches is safe
// because the backend issues all work on one stream (see cachingAlloc).
type scratch struct {
	ptr   uintptr
	class int
	n     int
}

// borrow takes n floats of scratch; it runs on the device goroutine.
func (g *gpu) borrow(n int) (scratch, error) {
	ptr, class, err := g.alloc.get(max(n, 1) * 4)
	return scratch{ptr: ptr, class: class, n: n}, err
}

func (g *gpu) giveBack(s scratch) { g.alloc.put(s.ptr, s.class) }

// at is the device address of element i of the scratch block.
func (s scratch) at(i int) uint64 { return uint64(s.ptr) + uint64(i)*4 }

// optAddr is a Buf's address, or the null pointer the kernels test for when
// the optional operand is absent.
func optAddr(b tensor.Buf) uint64 {
	if b.S == nil {
		return 0
	}
	return addr(b)
}

func boolArg(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// rowGemm runs the row-major C(m×n) = alpha*op(A)*op(B) + beta*C on device
// addresses, with aLen, bLen, cLen the elements each operand may span.
func (g *gpu) rowGemm(transA, transB bool, m, n, k int, alpha float32, a uint64, aLen, lda int,
	b uint64, bLen, ldb int, beta float32, c uint64, cLen, ldc int) error {
	cg := mapRowMajorGemm(transA, transB, m, n, k, lda, ldb, ldc)
	// The column-major call's A is the caller's B (SwapAB).
	return g.sgemm(cg, alpha, uintptr(b), uintptr(a), bLen, aLen, beta, uintptr(c), cLen)
}

// convGeometry is what the im2col/col2im kernels take after the images per
// chunk: C, H, W, KH, KW, SH, SW, PH, PW, OH, OW.
func convGeometry(p tensor.ConvParams) []uint64 {
	return []uint64{ival(p.C), ival(p.H), ival(p.W), ival(p.KH), ival(p.KW),
		ival(p.SH), ival(p.SW), ival(p.PH), ival(p.PW), ival(p.OH), ival(p.OW)}
}

// forConvChunks borrows the column and product scratch of one chunk of
// convChunk(p) images and calls fn for each chunk: its first image n0 and
// its image count cnt. It runs on the device goroutine.
func (g *gpu) forConvChunks(p tensor.ConvParams, fn func(n0, cnt int, col, t scratch) error) error {
	nb, ohw := convChunk(p), p.OH*p.OW
	col, err := g.borrow(p.C * p.KH * p.KW * nb * ohw)
	if err != nil {
		return err
	}
	defer g.giveBack(col)
	t, err := g.borrow(p.K * nb * ohw)
	if err != nil {
		return err
	}
	defer g.giveBack(t)
	for n0 := 0; n0 < p.N; n0 += nb {
		if err := fn(n0, min(nb, p.N-n0), col, t); err != nil {
			return err
		}
	}
	return nil
}

// im2col fills col with the columns of images n0 .. n0+cnt-1 of x.
func (g *gpu) im2col(p tensor.ConvParams, col scratch, x tensor.Buf, n0, cnt int) error {
	xa := addr(x) + uint64(n0*p.C*p.H*p.W)*4
	args := append([]uint64{col.at(0), xa, ival(cnt)}, convGeometry(p)...)
	return g.launch("vm_im2col", p.C*p.KH*p.KW*cnt*p.OH*p.OW, args...)
}

func (backend) Conv2d(p tensor.ConvParams, y, x, w, bias tensor.Buf) {
	if p.N == 0 || p.K == 0 || p.OH*p.OW == 0 {
		return
	}
	g := mustGPU()
	ckk, ohw := p.C*p.KH*p.KW, p.OH*p.OW
	must(g.do(func() error {
		return g.forConvChunks(p, func(n0, cnt int, col, t scratch) error {
			cols := cnt * ohw
			if err := g.im2col(p, col, x, n0, cnt); err != nil {
				return err
			}
			if err := g.rowGemm(false, false, p.K, cols, ckk, 1, addr(w), p.K*ckk, ckk,
				col.at(0), ckk*cols, cols, 0, t.at(0), p.K*cols, cols); err != nil {
				return err
			}
			ya := addr(y) + uint64(n0*p.K*ohw)*4
			return g.launch("vm_conv_out", p.K*cols, ya, t.at(0), optAddr(bias), ival(cnt), ival(p.K), ival(ohw), boolArg(p.ReLU))
		})
	}))
}

func (backend) Conv2dBackward(p tensor.ConvParams, dx, dw, db, dy, x, w tensor.Buf) {
	g := mustGPU()
	ckk, ohw, chw := p.C*p.KH*p.KW, p.OH*p.OW, p.C*p.H*p.W
	if p.N == 0 || ohw == 0 {
		for _, b := range []tensor.Buf{dx, dw, db} {
			if b.S != nil {
				backend{}.Fill(b, 0)
			}
		}
		return
	}
	must(g.do(func() error {
		if db.S != nil {
			if err := g.launchGrid("vm_conv_bias_grad", min(p.K, 1<<16), addr(db), addr(dy), ival(p.N), ival(p.K), ival(ohw)); err != nil {
				return err
			}
		}
		if dx.S == nil && dw.S == nil {
			return nil
		}
		return g.forConvChunks(p, func(n0, cnt int, col, t scratch) error {
			cols := cnt * ohw
			dya := addr(dy) + uint64(n0*p.K*ohw)*4
			if err := g.launch("vm_nchw_to_kn", p.K*cols, t.at(0), dya, ival(cnt), ival(p.K), ival(ohw)); err != nil {
				return err
			}
			if dw.S != nil {
				if err := g.im2col(p, col, x, n0, cnt); err != nil {
					return err
				}
				// dw (K×CKK) = dy (K×cols) · colᵀ, accumulated over chunks.
				beta := float32(1)
				if n0 == 0 {
					beta = 0
				}
				if err := g.rowGemm(false, true, p.K, ckk, cols, 1, t.at(0), p.K*cols, cols,
					col.at(0), ckk*cols, cols, beta, addr(dw), p.K*ckk, ckk); err != nil {
					return err
				}
			}
			if dx.S == nil {
				return nil
			}
			// The column gradient (CKK×cols) = wᵀ · dy, folded back by col2im.
			if err := g.rowGemm(true, false, ckk, cols, p.K, 1, addr(w), p.K*ckk, ckk,
				t.at(0), p.K*cols, cols, 0, col.at(0), ckk*cols, cols); err != nil {
				return err
			}
			dxa := addr(dx) + uint64(n0*chw)*4
			args := append([]uint64{dxa, col.at(0), ival(cnt)}, convGeometry(p)...)
			return g.launch("vm_col2im", cnt*chw, args...)
		})
	}))
}

// poolGeometry is the pooling kernels' H, W, KH, KW, SH, SW, PH, PW, OH, OW.
func poolGeometry(p tensor.PoolParams) []uint64 {
	return []uint64{ival(p.H), ival(p.W), ival(p.KH), ival(p.KW), ival(p.SH), ival(p.SW),
		ival(p.PH), ival(p.PW), ival(p.OH), ival(p.OW)}
}

func (backend) MaxPool2d(p tensor.PoolParams, y, idx, x tensor.Buf) {
	n := p.N * p.C * p.OH * p.OW
	if n == 0 {
		return
	}
	g := mustGPU()
	args := append([]uint64{addr(y), addr(idx), addr(x), ival(p.N * p.C)}, poolGeometry(p)...)
	must(g.do(func() error { return g.launch("vm_maxpool", n, args...) }))
}

func (backend) MaxPool2dBackward(p tensor.PoolParams, dx, dy, idx tensor.Buf) {
	n := p.N * p.C * p.H * p.W
	if n == 0 {
		return
	}
	g := mustGPU()
	args := append([]uint64{addr(dx), addr(dy), addr(idx), ival(p.N * p.C)}, poolGeometry(p)...)
	must(g.do(func() error { return g.launch("vm_maxpool_backward", n, args...) }))
}

func (backend) AvgPool2d(p tensor.PoolParams, y, x tensor.Buf) {
	n := p.N * p.C * p.OH * p.OW
	if n == 0 {
		return
	}
	g := mustGPU()
	args := append([]uint64{addr(y), addr(x), ival(p.N * p.C)}, poolGeometry(p)...)
	args = append(args, boolArg(p.CountIncludePad))
	must(g.do(func() error { return g.launch("vm_avgpool", n, args...) }))
}

func (backend) AvgPool2dBackward(p tensor.PoolParams, dx, dy tensor.Buf) {
	n := p.N * p.C * p.H * p.W
	if n == 0 {
		return
	}
	g := mustGPU()
	args := append([]uint64{addr(dx), addr(dy), ival(p.N * p.C)}, poolGeometry(p)...)
	args = append(args, boolArg(p.CountIncludePad))
	must(g.do(func() error { return g.launch("vm_avgpool_backward", n, args...) }))
}

// channelBlocks is the grid of the one-block-per-channel kernels, which
// loop over channels beyond it.
func channelBlocks(c int) int { return min(max(c, 1), 1<<16) }

func (backend) ChannelStats(mean, variance, x tensor.Buf, n, c, hw int) {
	if c == 0 {
		return
	}
	g := mustGPU()
	must(g.do(func() error {
		return g.launchGrid("vm_channel_stats", channelBlocks(c), addr(mean), addr(variance), addr(x), ival(n), ival(c), ival(hw))
	}))
}

func (backend) ChannelAffine(y, x tensor.Buf, n, c, hw int, scale, shift tensor.Buf) {
	total := n * c * hw
	if total == 0 {
		return
	}
	g := mustGPU()
	must(g.do(func() error {
		return g.launch("vm_channel_affine", total, addr(y), addr(x), ival(n), ival(c), ival(hw), addr(scale), addr(shift))
	}))
}

func (backend) BatchNormBackward(dx, dgamma, dbeta, dy, x tensor.Buf, n, c, hw int, mean, invstd, gamma tensor.Buf, batchStats bool) {
	if c == 0 {
		return
	}
	g := mustGPU()
	must(g.do(func() error {
		k, err := g.borrow(3 * c)
		if err != nil {
			return err
		}
		defer g.giveBack(k)
		if err := g.launchGrid("vm_bn_backward_reduce", channelBlocks(c), optAddr(dgamma), optAddr(dbeta), k.at(0),
			addr(dy), addr(x), ival(n), ival(c), ival(hw), addr(mean), addr(invstd), optAddr(gamma), boolArg(batchStats)); err != nil {
			return err
		}
		if dx.S == nil || n*hw == 0 {
			return nil
		}
		return g.launch("vm_bn_backward_dx", n*c*hw, addr(dx), addr(dy), addr(x), ival(n), ival(c), ival(hw),
			addr(mean), k.at(0), boolArg(batchStats))
	}))
}

func (backend) Softmax(dst, x tensor.Buf, outer, axis, inner int, log bool) {
	if outer*inner == 0 || axis == 0 {
		return
	}
	g := mustGPU()
	must(g.do(func() error {
		return g.launch("vm_softmax", outer*inner, addr(dst), addr(x), ival(outer), ival(axis), ival(inner), boolArg(log))
	}))
}

func (backend) ArgReduce(op tensor.ReduceOp, dst tensor.Buf, idx []int, x tensor.Buf, outer, axis, inner int) {
	nout := outer * inner
	if nout == 0 {
		return
	}
	g := mustGPU()
	ix := make([]int32, nout)
	must(g.do(func() error {
		s, err := g.borrow(nout)
		if err != nil {
			return err
		}
		defer g.giveBack(s)
		if err := g.launch("vm_argreduce", nout, addr(dst), s.at(0), addr(x), ival(outer), ival(axis), ival(inner), boolArg(op == tensor.RMax)); err != nil {
			return err
		}
		return g.downloadInt32(ix, s)
	}))
	for i, v := range ix {
		idx[i] = int(v)
	}
}

func (backend) Gather(dst, src tensor.Buf, outer, axisLen, inner int, idx []int) {
	n := outer * len(idx) * inner
	if n == 0 {
		return
	}
	g := mustGPU()
	ix := toInt32(idx)
	must(g.do(func() error {
		s, err := g.borrow(len(ix))
		if err != nil {
			return err
		}
		defer g.giveBack(s)
		if err := g.uploadInt32(s, ix); err != nil {
			return err
		}
		return g.launch("vm_gather", n, addr(dst), addr(src), s.at(0), ival(outer), ival(axisLen), ival(inner), ival(len(idx)))
	}))
}

func (backend) IndexAdd(dst, src tensor.Buf, outer, axisLen, inner int, idx []int) {
	if outer*axisLen*inner == 0 || len(idx) == 0 {
		return
	}
	g := mustGPU()
	start, pos := indexCSR(idx, axisLen)
	must(g.do(func() error {
		s, err := g.borrow(len(start) + len(pos))
		if err != nil {
			return err
		}
		defer g.giveBack(s)
		if err := g.uploadInt32(s, append(start, pos...)); err != nil {
			return err
		}
		return g.launch("vm_index_add", outer*axisLen*inner, addr(dst), addr(src), s.at(0), s.at(len(start)),
			ival(outer), ival(axisLen), ival(inner), ival(len(idx)))
	}))
}

// uploadInt32 copies host indices into scratch; it runs on the device
// goroutine.
func (g *gpu) uploadInt32(dst scratch, src []int32) error {
	if len(src) == 0 {
		return nil
	}
	return cuErr("cuMemcpyHtoD", cu.MemcpyHtoD(dptr(dst.at(0)), unsafe.Pointer(&src[0]), int64(len(src))*4))
}

// downloadInt32 copies indices the kernels wrote into the host slice dst.
func (g *gpu) downloadInt32(dst []int32, src scratch) error {
	if len(dst) == 0 {
		return nil
	}
	return cuErr("cuMemcpyDtoH", cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), dptr(src.at(0)), int64(len(dst))*4))
}
