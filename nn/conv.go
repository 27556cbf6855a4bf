package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// Conv2d is torch.nn.Conv2d with one group and no dilation: parameters
// "weight" [Out, In, KH, KW] and "bias" [Out] (nil without one). Stride and
// Padding are (height, width) pairs and may be changed after construction.
type Conv2d struct {
	Base
	In, Out         int
	Stride, Padding [2]int
	Weight          *autograd.Var
	Bias            *autograd.Var
}

// NewConv2d makes a Conv2d with square kernel, stride and padding and
// PyTorch's default initialization drawn from rng.
func NewConv2d(rng *rand.Rand, in, out, kernel, stride, padding int, bias bool) *Conv2d {
	if in < 1 || out < 1 || kernel < 1 || stride < 1 || padding < 0 {
		panic(fmt.Sprintf("nn.NewConv2d: invalid in=%d out=%d kernel=%d stride=%d padding=%d", in, out, kernel, stride, padding))
	}
	c := &Conv2d{In: in, Out: out, Stride: [2]int{stride, stride}, Padding: [2]int{padding, padding}}
	w := tensor.Zeros(out, in, kernel, kernel)
	var b *tensor.Tensor
	if bias {
		b = tensor.Zeros(out)
	}
	defaultInit(rng, w, b)
	c.Weight = c.RegisterParam("weight", autograd.Param(w))
	if bias {
		c.Bias = c.RegisterParam("bias", autograd.Param(b))
	}
	return c
}

// Forward applies the convolution to x [N, In, H, W].
func (c *Conv2d) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Conv2d(x, c.Weight, c.Bias, c.Stride, c.Padding)
}

// ForwardReLU applies the convolution and then max(·, 0) in one fused pass.
func (c *Conv2d) ForwardReLU(x *autograd.Var) *autograd.Var {
	return autograd.Conv2dReLU(x, c.Weight, c.Bias, c.Stride, c.Padding)
}
