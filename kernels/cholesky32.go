package kernels

import "math"

// choleskyBlock is the panel width of Spotrf. The trailing update is an
// SGEMM of inner dimension choleskyBlock; 64 keeps that product in the
// packed kernel's efficient range while the unblocked diagonal-block work
// (choleskyBlock³/3 flops per panel) stays small beside it.
const choleskyBlock = 64

// Spotrf factors the symmetric n×n float32 matrix held in the lower
// triangle of a (row-major, row stride lda) as L·Lᵀ in place, L lower
// triangular, in float32 arithmetic, as LAPACK's spotrf (what
// torch.linalg.cholesky runs on float32 tensors). It reports false, as
// spotrf's info > 0, when a pivot is not positive (or is NaN): the matrix
// is not positive definite in float32; a then holds a partial factor.
// The strict upper triangle is scratch: it is neither read nor kept.
func Spotrf(n int, a []float32, lda int) bool { return SpotrfInfo(n, a, lda) == 0 }

// SpotrfInfo is Spotrf reporting, as spotrf's info, 0 on success or j+1
// when the pivot of column j is not positive. That verdict depends only on
// the leading (j+1)×(j+1) block of a.
//
// The factorization is blocked: each panel of choleskyBlock columns is
// factored by the unblocked algorithm, the rows below it are solved
// against it, and the trailing lower triangle is updated with Sgemm, which
// carries the O(n³) work.
func SpotrfInfo(n int, a []float32, lda int) int {
	checkSquare(n, a, lda)
	for j0 := 0; j0 < n; j0 += choleskyBlock {
		jb := min(choleskyBlock, n-j0)
		if info := spotrfUnblocked(jb, a[j0*lda+j0:], lda); info != 0 {
			return j0 + info
		}
		below := n - j0 - jb
		if below == 0 {
			break
		}
		panel := a[(j0+jb)*lda+j0:]
		solveLowerT(below, jb, a[j0*lda+j0:], lda, panel, lda)
		// A22 -= A21·A21ᵀ on the lower triangle, one block row at a time so
		// that the strict upper triangle (beyond each row block's diagonal
		// block) is not updated for nothing.
		for i0 := 0; i0 < below; i0 += choleskyBlock {
			ib := min(choleskyBlock, below-i0)
			Sgemm(false, true, ib, i0+ib, jb, -1, panel[i0*lda:], lda, panel, lda,
				1, a[(j0+jb+i0)*lda+j0+jb:], lda)
		}
	}
	return 0
}

// SpotrfUnblocked is Spotrf computed column by column without blocking or
// Sgemm: the plain algorithm, kept as Spotrf's test oracle and for small
// matrices.
func SpotrfUnblocked(n int, a []float32, lda int) bool {
	checkSquare(n, a, lda)
	return spotrfUnblocked(n, a, lda) == 0
}

func checkSquare(n int, a []float32, lda int) {
	if n < 0 || lda < max(n, 1) || (n > 0 && len(a) < (n-1)*lda+n) {
		panic("kernels: Spotrf: bad dimensions")
	}
}

// spotrfUnblocked is the left-looking (Cholesky–Crout) factorization of
// the lower triangle: column j is a's column less the products of the
// finished columns, then scaled by its pivot's square root. It returns
// spotrf's info: 0, or j+1 when column j's pivot is not positive.
func spotrfUnblocked(n int, a []float32, lda int) int {
	for j := range n {
		rj := a[j*lda : j*lda+j]
		d := a[j*lda+j]
		for _, v := range rj {
			d -= v * v
		}
		if !(d > 0) {
			return j + 1
		}
		// A float64 square root rounded once to float32 is the correctly
		// rounded float32 square root (53 >= 2·24 + 2 bits).
		ljj := float32(math.Sqrt(float64(d)))
		a[j*lda+j] = ljj
		for i := j + 1; i < n; i++ {
			ri := a[i*lda : i*lda+j]
			s := a[i*lda+j]
			for k, v := range ri {
				s -= v * rj[k]
			}
			a[i*lda+j] = s / ljj
		}
	}
	return 0
}

// solveLowerT overwrites the m×n block b with b·L⁻ᵀ, L the n×n lower
// triangle of l: the rows of a panel below its factored diagonal block.
func solveLowerT(m, n int, l []float32, ldl int, b []float32, ldb int) {
	for i := range m {
		row := b[i*ldb : i*ldb+n]
		for c := range n {
			lc := l[c*ldl : c*ldl+c]
			s := row[c]
			for k, v := range lc {
				s -= row[k] * v
			}
			row[c] = s / l[c*ldl+c]
		}
	}
}
