package cuda

// colGemm is one column-major SGEMM call, cuBLAS's convention:
// C = alpha*op(A)*op(B) + beta*C with C M×N, op(A) M×K, op(B) K×N, each
// matrix stored by columns with leading dimension Ld*. SwapAB says that the
// call's A is the row-major caller's B and the call's B the caller's A.
type colGemm struct {
	TransA, TransB bool
	M, N, K        int
	Lda, Ldb, Ldc  int
	SwapAB         bool
}

// mapRowMajorGemm turns the row-major product the tensor Backend asks for,
// C(m×n) = op(A)(m×k) * op(B)(k×n) with row strides lda, ldb, ldc, into the
// column-major call that computes it. A row-major matrix with row stride ld
// is, read column-major with the same ld, its transpose; so the row-major C
// is the column-major Cᵀ = op(B)ᵀ op(A)ᵀ, an n×m product whose first
// operand is B and whose transpose flags are the caller's, swapped.
//
// The leading dimensions pass through unchanged; cuBLAS rejects a leading
// dimension below 1 even for an empty matrix, so zero becomes one.
func mapRowMajorGemm(transA, transB bool, m, n, k, lda, ldb, ldc int) colGemm {
	return colGemm{
		TransA: transB, TransB: transA,
		M: n, N: m, K: k,
		Lda: max(ldb, 1), Ldb: max(lda, 1), Ldc: max(ldc, 1),
		SwapAB: true,
	}
}
