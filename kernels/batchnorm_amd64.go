//go:build amd64 && !purego

package kernels

// The assembly of batchnorm.go (batchnorm_amd64.s): n is a whole number of
// blocks (16 for the sums, 8 for the passes) and at least one block.

//go:noescape
func sumDiff64AVX2(x *float32, n int, m float64, out *[2]float64)

//go:noescape
func sumProdDiff64AVX2(grad, x *float32, n int, m float64, out *[2]float64)

//go:noescape
func scaleShiftAVX2(dst, x *float32, n int, a, b float32)

//go:noescape
func bnInputGradAVX2(dst, grad, x *float32, n int, a, b, m, d float32)
