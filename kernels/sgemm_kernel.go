package kernels

import "unsafe"

// microKernel is a register-blocked SGEMM kernel and the blocking tuned for it.
//
// Contract (shared by the assembly kernels and their pure-Go twins): a is a
// packed mr×k micro-panel of A (element (i, p) at a[p*mr+i]), b a packed
// k×nr micro-panel of B (element (p, j) at b[p*nr+j]), c the top-left
// element of an mr×nr tile of C with row stride ldc, and the kernel sets
//
//	C[i*ldc+j] = alpha*sum_p a[p*mr+i]*b[p*nr+j] + beta*C[i*ldc+j]
//
// reading no element of C when beta == 0. k may be 0.
type microKernel struct {
	name   string
	mr, nr int
	fn     func(k int, a, b, c *float32, ldc int, alpha, beta float32)
	blk    blocking
}

// newMicroKernel describes fn, an mr×nr micro-kernel, blocked with the
// small-M schedule's cache shares of blockingFor.
func newMicroKernel(name string, mr, nr int, small cacheShares, fn func(k int, a, b, c *float32, ldc int, alpha, beta float32)) *microKernel {
	return &microKernel{name: name, mr: mr, nr: nr, fn: fn, blk: blockingFor(mr, nr, small)}
}

// kernelGeneric is the specification of every micro-kernel, for any tile
// size; the tests hold each assembly kernel to it.
func kernelGeneric(mr, nr, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	var accBuf [16 * 64]float32
	acc := accBuf[:mr*nr]
	for p := 0; p < k; p++ {
		ap := a[p*mr : p*mr+mr]
		bp := b[p*nr : p*nr+nr]
		for i, av := range ap {
			row := acc[i*nr : i*nr+nr]
			for j, bv := range bp {
				row[j] += av * bv
			}
		}
	}
	for i := 0; i < mr; i++ {
		row := c[i*ldc : i*ldc+nr]
		for j := range row {
			if beta == 0 {
				row[j] = alpha * acc[i*nr+j]
			} else {
				row[j] = alpha*acc[i*nr+j] + beta*row[j]
			}
		}
	}
}

// sgemmKernel4x4Generic is the micro-kernel of the pure-Go path: a 4×4 tile
// whose sixteen accumulators are local variables the compiler can keep in
// registers. It is kernelGeneric(4, 4, ...) unrolled.
func sgemmKernel4x4Generic(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	as := unsafe.Slice(a, 4*k)
	bs := unsafe.Slice(b, 4*k)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < k; p++ {
		ap := as[p*4 : p*4+4 : p*4+4]
		bp := bs[p*4 : p*4+4 : p*4+4]
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	store4(cs[0:4:4], c00, c01, c02, c03, alpha, beta)
	store4(cs[ldc:ldc+4:ldc+4], c10, c11, c12, c13, alpha, beta)
	store4(cs[2*ldc:2*ldc+4:2*ldc+4], c20, c21, c22, c23, alpha, beta)
	store4(cs[3*ldc:3*ldc+4:3*ldc+4], c30, c31, c32, c33, alpha, beta)
}

func store4(row []float32, x0, x1, x2, x3, alpha, beta float32) {
	if beta == 0 {
		row[0], row[1], row[2], row[3] = alpha*x0, alpha*x1, alpha*x2, alpha*x3
		return
	}
	row[0] = alpha*x0 + beta*row[0]
	row[1] = alpha*x1 + beta*row[1]
	row[2] = alpha*x2 + beta*row[2]
	row[3] = alpha*x3 + beta*row[3]
}

var kernelGeneric4x4 = newMicroKernel("generic-4x4", 4, 4, sharesMeasuredAVX512, sgemmKernel4x4Generic)

// sgemmKernel selects the micro-kernel of the current path.
func sgemmKernel() *microKernel {
	if k := asmKernel(); k != nil {
		return k
	}
	return kernelGeneric4x4
}
