package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// Linear is torch.nn.Linear: y = x W^T + b for x [N, In], with parameters
// "weight" [Out, In] and "bias" [Out] (nil when built without one).
type Linear struct {
	Base
	In, Out int
	Weight  *autograd.Var
	Bias    *autograd.Var
}

// NewLinear makes a Linear layer with PyTorch's default initialization drawn
// from rng.
func NewLinear(rng *rand.Rand, in, out int, bias bool) *Linear {
	if in < 0 || out < 0 {
		panic(fmt.Sprintf("nn.NewLinear: negative size in=%d out=%d", in, out))
	}
	l := &Linear{In: in, Out: out}
	w := tensor.Zeros(out, in)
	var b *tensor.Tensor
	if bias {
		b = tensor.Zeros(out)
	}
	defaultInit(rng, w, b)
	l.Weight = l.RegisterParam("weight", autograd.Param(w))
	if bias {
		l.Bias = l.RegisterParam("bias", autograd.Param(b))
	}
	return l
}

// Forward applies the layer to x [N, In].
func (l *Linear) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Linear(x, l.Weight, l.Bias)
}
