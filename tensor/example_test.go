package tensor_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/tensor"
)

// Broadcasting follows PyTorch: a [2, 3] matrix plus a [3] row adds the row
// to every line, and MatMul works on row-major matrices.
func Example() {
	a := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	row := tensor.FromSlice([]float32{10, 20, 30}, 3)
	sum := tensor.Add(a, row)
	fmt.Println(sum.Shape(), sum.Data())

	prod := tensor.MatMul(a, a.T()) // [2, 3] x [3, 2]
	fmt.Println(prod.Shape(), prod.Data())

	// Reductions name their axes; keepDim keeps them as size 1.
	fmt.Println(tensor.Sum(a, false, 1).Data())
	// Output:
	// [2 3] [11 22 33 14 25 36]
	// [2 2] [14 32 32 77]
	// [6 15]
}

// Random tensors draw from the caller's generator, so a seed fixes them.
func ExampleRandn() {
	x := tensor.Randn(rand.New(rand.NewPCG(1, 2)), 2, 3)
	y := tensor.Randn(rand.New(rand.NewPCG(1, 2)), 2, 3)
	fmt.Println(x.Shape(), tensor.AllClose(x, y, 0, 0))
	// Output:
	// [2 3] true
}

// Images are NCHW: a batch of 2 single-channel 5×5 images through 4 filters
// of 3×3 with padding 1 keeps the spatial size.
func ExampleConv2d() {
	x := tensor.Ones(2, 1, 5, 5)
	w := tensor.Full(0.5, 4, 1, 3, 3)
	y := tensor.Conv2d(x, w, nil, [2]int{1, 1}, [2]int{1, 1})
	fmt.Println(y.Shape())
	fmt.Println(y.At(0, 0, 0, 0), y.At(0, 0, 2, 2)) // corner sees 4 ones, centre 9
	// Output:
	// [2 4 5 5]
	// 2 4.5
}

// Misuse panics with a *ShapeError naming the op and the shapes; Catch turns
// it into an error.
func ExampleCatch() {
	err := tensor.Catch(func() {
		tensor.Add(tensor.Zeros(2, 3), tensor.Zeros(4))
	})
	fmt.Println(err)
	// Output:
	// tensor.Add: shapes [2 3] and [4]: cannot broadcast
}
