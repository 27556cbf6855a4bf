package autograd_test

import (
	"fmt"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// Build a graph by calling ops on Vars, then Backward from a scalar: the
// gradient of L = sum((w·x)²) lands in the trainable leaves.
func Example() {
	w := autograd.Param(tensor.FromSlice([]float32{1, 2, 3}, 1, 3))  // trainable
	x := autograd.Const(tensor.FromSlice([]float32{1, 0, -1}, 3, 1)) // no gradient
	y := autograd.MatMul(w, x)                                       // [1, 1]: 1 - 3 = -2
	loss := autograd.Sum(autograd.Square(y), false)                  // 4
	if err := loss.Backward(); err != nil {
		panic(err)
	}
	fmt.Println(loss.Value().Item())
	fmt.Println(w.Grad().Data()) // dL/dw = 2·y·xᵀ
	fmt.Println(x.Grad() == nil)
	// Output:
	// 4
	// [-4 0 4]
	// true
}

// The graph is released by Backward, as in PyTorch without retain_graph: a
// second Backward through it is an error.
func ExampleVar_Backward() {
	a := autograd.Param(tensor.FromSlice([]float32{3}, 1))
	b := autograd.Mul(a, a)
	fmt.Println(b.Backward(), a.Grad().Data())
	fmt.Println(b.Backward() != nil)
	// Output:
	// <nil> [6]
	// true
}

// NoGrad runs inference without recording a graph.
func ExampleNoGrad() {
	w := autograd.Param(tensor.Ones(2))
	var y *autograd.Var
	autograd.NoGrad(func() {
		y = autograd.MulScalar(w, 3)
	})
	fmt.Println(y.Value().Data(), y.RequiresGrad())
	// Output:
	// [3 3] false
}

// Custom records an op whose forward is computed directly and whose
// backward is written by hand; CheckGrad compares that backward with finite
// differences.
func ExampleCustom() {
	cube := func(xs []*autograd.Var) *autograd.Var {
		x := xs[0]
		v := tensor.Mul(tensor.Mul(x.Value(), x.Value()), x.Value())
		return autograd.Custom("cube", v, func(g *tensor.Tensor) []*tensor.Tensor {
			// d(x³)/dx = 3x²
			return []*tensor.Tensor{tensor.Mul(g, tensor.MulScalar(tensor.Mul(x.Value(), x.Value()), 3))}
		}, x)
	}
	x := tensor.FromSlice([]float32{0.5, -1, 2}, 3)
	fmt.Println(autograd.CheckGrad(cube, []*tensor.Tensor{x}, autograd.CheckOptions{}))
	// Output:
	// <nil>
}
