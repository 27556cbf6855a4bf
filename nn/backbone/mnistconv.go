package backbone

import (
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// MnistConvOutDim is enc_out_dim of the mnist-conv encoder.
const MnistConvOutDim = 500

// mnistConvChannels is the width of every convolution of mnist-conv.
const mnistConvChannels = 100

// NewMnistConv builds the mnist-conv encoder for 1×28×28 images: five 3×3
// convolutions of 100 channels (padding 1) with ReLUs and three 2×2 max
// pools, then Flatten and Linear(900, 500). The layers are the children of
// one Sequential in PyTorch's order, so its keys are "0.weight", "0.bias",
// "2.weight", ..., "14.weight", "14.bias", as in torch.nn.Sequential.
func NewMnistConv(rng *rand.Rand) *nn.Sequential {
	c := mnistConvChannels
	conv := func(in int) nn.Module { return nn.NewConv2d(rng, in, c, 3, 1, 1, true) }
	return nn.NewSequential(
		conv(1), nn.NewReLU(), conv(c), nn.NewReLU(), nn.NewMaxPool2d(2, 0, 0),
		conv(c), nn.NewReLU(), conv(c), nn.NewReLU(), nn.NewMaxPool2d(2, 0, 0),
		conv(c), nn.NewReLU(), nn.NewMaxPool2d(2, 0, 0),
		nn.NewFlatten(), nn.NewLinear(rng, c*3*3, MnistConvOutDim, true),
	)
}

// MnistConv is the reference's MnistConvEncoder: the convolutional part as
// the Sequential "encoder" (indices 0..12, as in PyTorch) and the final
// Linear(900, 500) as "dec_layer", the reference's names.
type MnistConv struct {
	nn.Base
	Convs    *nn.Sequential
	DecLayer *nn.Linear
}

// NewMnistConvEncoder builds the mnist-conv encoder with the reference's
// module layout, drawing weights from rng in PyTorch's order.
func NewMnistConvEncoder(rng *rand.Rand) *MnistConv {
	seq := NewMnistConv(rng)
	m := &MnistConv{Convs: nn.NewSequential(seq.Layers[:13]...), DecLayer: seq.Layers[14].(*nn.Linear)}
	m.Convs.DiscardIntermediates = true // no layer keeps its input
	m.RegisterModule("encoder", m.Convs)
	m.RegisterModule("dec_layer", m.DecLayer)
	return m
}

// Forward returns h [N, 500] for images x [N, 1, 28, 28].
func (m *MnistConv) Forward(x *autograd.Var) *autograd.Var {
	return m.DecLayer.Forward(autograd.Flatten(m.Convs.Forward(x), 1, -1))
}

// ForwardTaps returns h and the reference's three taps, global-average
// pooled: the 2nd convolution before its ReLU (encoder[0:3]), the first
// max-pool (encoder[0:5]) and the 3rd convolution after its ReLU
// (encoder[0:7]). The layers run one by one so that the pre-ReLU tap is
// not lost to the fused convolution+ReLU of Sequential.
func (m *MnistConv) ForwardTaps(x *autograd.Var) (*autograd.Var, [3]*autograd.Var) {
	var taps [3]*autograd.Var
	tapAt := map[int]int{2: 0, 4: 1, 6: 2}
	mark := tensor.AllocMark() // the caller's x is older: never discarded
	for i, l := range m.Convs.Layers {
		in := x
		x = l.Forward(x)
		autograd.DiscardUnrecorded(mark, in)
		if k, ok := tapAt[i]; ok {
			taps[k] = autograd.Flatten(autograd.GlobalAvgPool2d(x), 1, 3)
		}
	}
	return m.DecLayer.Forward(autograd.Flatten(x, 1, -1)), taps
}

// OutDim is enc_out_dim, 500.
func (m *MnistConv) OutDim() int { return MnistConvOutDim }

// TapDims are the tap widths, 100 each.
func (m *MnistConv) TapDims() [3]int {
	return [3]int{mnistConvChannels, mnistConvChannels, mnistConvChannels}
}
