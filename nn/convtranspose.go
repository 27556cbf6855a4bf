package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// ConvTranspose2d is torch.nn.ConvTranspose2d with one group and no
// dilation: parameters "weight" [In, Out, KH, KW] and "bias" [Out] (nil
// without one). The output is (H-1)*Stride - 2*Padding + KH + OutputPadding
// high, likewise wide.
type ConvTranspose2d struct {
	Base
	In, Out                        int
	Stride, Padding, OutputPadding [2]int
	Weight                         *autograd.Var
	Bias                           *autograd.Var
}

// NewConvTranspose2d makes a ConvTranspose2d with square kernel, stride and
// padding and PyTorch's default initialization (whose fan-in for this layer
// is Out*KH*KW) drawn from rng.
func NewConvTranspose2d(rng *rand.Rand, in, out, kernel, stride, padding int, bias bool) *ConvTranspose2d {
	if in < 1 || out < 1 || kernel < 1 || stride < 1 || padding < 0 {
		panic(fmt.Sprintf("nn.NewConvTranspose2d: invalid in=%d out=%d kernel=%d stride=%d padding=%d", in, out, kernel, stride, padding))
	}
	c := &ConvTranspose2d{In: in, Out: out, Stride: [2]int{stride, stride}, Padding: [2]int{padding, padding}}
	w := tensor.Zeros(in, out, kernel, kernel)
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

// Forward applies the transposed convolution to x [N, In, H, W].
func (c *ConvTranspose2d) Forward(x *autograd.Var) *autograd.Var {
	return autograd.ConvTranspose2d(x, c.Weight, c.Bias, c.Stride, c.Padding, c.OutputPadding)
}
