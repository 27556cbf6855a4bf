package nn

import (
	"fmt"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// BatchNorm2d is torch.nn.BatchNorm2d with running statistics: in training
// it normalizes with the batch's statistics and updates the buffers
// "running_mean", "running_var" (unbiased) with Momentum and counts
// "num_batches_tracked"; in evaluation it uses the buffers. With Affine it
// has parameters "weight" (ones) and "bias" (zeros). State_dict order is
// PyTorch's: weight, bias, running_mean, running_var, num_batches_tracked.
//
// num_batches_tracked is held as a float32 scalar (exact up to 2^24
// batches); PyTorch stores it as int64, which checkpoints convert.
type BatchNorm2d struct {
	Base
	Features          int
	Eps, Momentum     float32
	Weight, Bias      *autograd.Var // nil when not affine
	RunningMean       *tensor.Tensor
	RunningVar        *tensor.Tensor
	NumBatchesTracked *tensor.Tensor
}

// NewBatchNorm2d makes a BatchNorm2d over c channels with PyTorch's defaults
// (eps 1e-5, momentum 0.1), with a learned affine map when affine is set.
func NewBatchNorm2d(c int, affine bool) *BatchNorm2d {
	if c < 1 {
		panic(fmt.Sprintf("nn.NewBatchNorm2d: %d channels", c))
	}
	b := &BatchNorm2d{Features: c, Eps: 1e-5, Momentum: 0.1}
	if affine {
		b.Weight = b.RegisterParam("weight", autograd.Param(tensor.Ones(c)))
		b.Bias = b.RegisterParam("bias", autograd.Param(tensor.Zeros(c)))
	}
	b.RunningMean = b.RegisterBuffer("running_mean", tensor.Zeros(c))
	b.RunningVar = b.RegisterBuffer("running_var", tensor.Ones(c))
	b.NumBatchesTracked = b.RegisterBuffer("num_batches_tracked", tensor.Scalar(0))
	return b
}

// Forward normalizes x [N, Features, H, W] (any trailing axes work).
func (b *BatchNorm2d) Forward(x *autograd.Var) *autograd.Var {
	return b.forward(x, nil, false)
}

// ForwardReLU is ReLU(Forward(x)) as one fused op (autograd.BatchNorm2dReLU):
// the same values and gradients, one activation tensor less kept for
// backward.
func (b *BatchNorm2d) ForwardReLU(x *autograd.Var) *autograd.Var {
	return b.forward(x, nil, true)
}

// ForwardAddReLU is ReLU(Forward(x) + residual) as one fused op
// (autograd.BatchNorm2dAddReLU), the join of a residual block.
func (b *BatchNorm2d) ForwardAddReLU(x, residual *autograd.Var) *autograd.Var {
	return b.forward(x, residual, true)
}

func (b *BatchNorm2d) forward(x, residual *autograd.Var, relu bool) *autograd.Var {
	if sh := x.Shape(); len(sh) < 2 || sh[1] != b.Features {
		panic(&tensor.ShapeError{Op: "nn.BatchNorm2d", Shapes: [][]int{sh},
			Detail: fmt.Sprintf("input must be [N, %d, ...]", b.Features)})
	}
	training := b.Training()
	if training {
		// On the counter's device: a Set(Item()+1) would be a round trip
		// per layer per step off the CPU. Both add 1 in float32.
		b.NumBatchesTracked.AddScalarInPlace(1)
	}
	switch {
	case residual != nil:
		return autograd.BatchNorm2dAddReLU(x, b.Weight, b.Bias, residual, b.RunningMean, b.RunningVar, training, b.Momentum, b.Eps)
	case relu:
		return autograd.BatchNorm2dReLU(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, training, b.Momentum, b.Eps)
	}
	return autograd.BatchNorm2d(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, training, b.Momentum, b.Eps)
}
