package kernels_test

import (
	"fmt"

	"github.com/vmdls-go/vmdls/kernels"
)

// Sgemm multiplies row-major matrices with explicit leading dimensions, as
// BLAS does: here C = A·Bᵀ for A 2×3 and B 2×3 (so op(B) = Bᵀ is 3×2).
// Small integers are exact in float32, so every kernel path prints the same.
func ExampleSgemm() {
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, -1, 2, 1, 0}
	c := make([]float32, 4)
	kernels.Sgemm(false, true, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2)
	fmt.Println(c)
	// Output:
	// [-2 4 -2 13]
}
