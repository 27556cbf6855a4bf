package backbone

import (
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// VGGOutDim is enc_out_dim of the vgg encoder.
const VGGOutDim = 1024

// vggConfig is the reference's layer list: a number is a 3×3 convolution of
// that many channels followed by BatchNorm and ReLU, 0 is a 2×2 max pool.
var vggConfig = []int{64, 128, 0, 256, 256, 0, 256, 256, 256, 256, 0}

// vggTapAt are the indices in VGG.Encoder of the batch norms whose outputs
// are the taps (the 2nd, 4th and 8th, before their ReLU).
var vggTapAt = [3]int{4, 11, 24}

// VGG is the reference's VGG-style encoder for 3×32×32 images (nets.py
// VGGM): eight conv3x3+BN+ReLU layers with three max pools, Flatten,
// Linear(4096, 1024), ReLU, Linear(1024, 1024), ReLU. All layers are the
// children of one Sequential registered as "encoder", so the keys are
// "encoder.0.weight", "encoder.1.running_mean", ..., "encoder.30.bias",
// as in PyTorch.
type VGG struct {
	nn.Base
	Encoder *nn.Sequential
}

// NewVGG builds the vgg encoder with PyTorch's default initialization
// (the reference has no custom one) drawn from rng in construction order.
func NewVGG(rng *rand.Rand) *VGG {
	seq := nn.NewSequential()
	in := 3
	for _, c := range vggConfig {
		if c == 0 {
			seq.Append(nn.NewMaxPool2d(2, 2, 0))
			continue
		}
		seq.Append(nn.NewConv2d(rng, in, c, 3, 1, 1, true))
		seq.Append(nn.NewBatchNorm2d(c, true))
		seq.Append(nn.NewReLU())
		in = c
	}
	seq.Append(nn.NewFlatten())
	seq.Append(nn.NewLinear(rng, 256*4*4, VGGOutDim, true))
	seq.Append(nn.NewReLU())
	seq.Append(nn.NewLinear(rng, VGGOutDim, VGGOutDim, true))
	seq.Append(nn.NewReLU())
	seq.DiscardIntermediates = true // no layer keeps its input
	v := &VGG{Encoder: seq}
	v.RegisterModule("encoder", seq)
	return v
}

// Forward returns h [N, 1024] for x [N, 3, 32, 32].
func (v *VGG) Forward(x *autograd.Var) *autograd.Var { return v.Encoder.Forward(x) }

// ForwardTaps returns h and the pooled outputs of the 2nd, 4th and 8th
// batch norms from one pass. The layers run one by one (no conv fusion is
// lost: every convolution here is followed by a batch norm).
func (v *VGG) ForwardTaps(x *autograd.Var) (h *autograd.Var, taps [3]*autograd.Var) {
	k := 0
	mark := tensor.AllocMark() // the caller's x is older: never discarded
	for i, l := range v.Encoder.Layers {
		in := x
		x = l.Forward(x)
		if !tensor.SameStorage(in.Value(), x.Value()) {
			autograd.DiscardUnrecorded(mark, in)
		}
		if k < 3 && i == vggTapAt[k] {
			taps[k] = globalPoolFlat(x)
			k++
		}
	}
	return x, taps
}

// OutDim is 1024.
func (v *VGG) OutDim() int { return VGGOutDim }

// TapDims are 128, 256, 256.
func (v *VGG) TapDims() [3]int { return [3]int{128, 256, 256} }

// globalPoolFlat global-average-pools x [N, C, H, W] to [N, C].
func globalPoolFlat(x *autograd.Var) *autograd.Var {
	sh := x.Shape()
	return autograd.Reshape(autograd.GlobalAvgPool2d(x), sh[0], sh[1])
}
