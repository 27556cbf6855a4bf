package backbone

import (
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
)

// MnistAECodeDim is the width of the MNIST autoencoder's code.
const MnistAECodeDim = 32

// MnistAE is the MNIST autoencoder of METHOD.md section 5, whose
// reconstruction error weights the known data. Its children are "encoder"
// (the mnist-conv Sequential), "fc" (Linear(500, 32)) and "decoder" (a
// Sequential), so its state_dict keys are those of the natural PyTorch
// module written in testdata/gen_autoencoder.py: encoder.0.weight ...
// encoder.14.bias, fc.weight, fc.bias, decoder.0 and decoder.1 (the two
// linear layers), decoder.3, 5, 7, 9, 11, 13 (the transposed convolutions;
// decoder.2 is the parameterless reshape, the even ones after it the ReLUs)
// and decoder.15 (the final 1×1 convolution). The reference's own
// checkpoint names are not available, so these are a choice, not a copy.
type MnistAE struct {
	nn.Base
	Encoder *nn.Sequential
	FC      *nn.Linear
	Decoder *nn.Sequential
}

// unflatten is torch.nn.Unflatten(1, shape): it splits the feature axis of
// [N, prod(shape)] into shape. It has no state, so it only takes a place in
// the decoder's numbering, as in PyTorch.
type unflatten struct {
	nn.Base
	shape []int
}

// Forward reshapes x [N, prod(shape)] to [N, shape...].
func (u *unflatten) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Reshape(x, append([]int{x.Shape()[0]}, u.shape...)...)
}

// NewMnistAE builds the MNIST autoencoder with PyTorch's default
// initialization drawn from rng, in PyTorch's construction order (encoder,
// fc, decoder). The decoder's spatial sizes: Linear(500, 900) reshaped to
// 100×3×3, then kernel-2 transposed convolutions of strides 1, 1, 1, 1, 2, 2
// give (H-1)*s + 2: 3 -> 4 -> 5 -> 6 -> 7 -> 14 -> 28, so the 1×1
// convolution returns [N, 1, 28, 28], the input's shape.
func NewMnistAE(rng *rand.Rand) *MnistAE {
	m := &MnistAE{}
	m.Encoder = NewMnistConv(rng)
	m.RegisterModule("encoder", m.Encoder)
	m.FC = nn.NewLinear(rng, MnistConvOutDim, MnistAECodeDim, true)
	m.RegisterModule("fc", m.FC)
	c := mnistConvChannels
	m.Decoder = nn.NewSequential(
		nn.NewLinear(rng, MnistAECodeDim, MnistConvOutDim, true),
		nn.NewLinear(rng, MnistConvOutDim, c*3*3, true),
		&unflatten{shape: []int{c, 3, 3}},
	)
	for _, s := range []int{1, 1, 1, 1, 2, 2} {
		m.Decoder.Append(nn.NewConvTranspose2d(rng, c, c, 2, s, 0, true))
		m.Decoder.Append(nn.NewReLU())
	}
	m.Decoder.Append(nn.NewConv2d(rng, c, 1, 1, 1, 0, true))
	m.RegisterModule("decoder", m.Decoder)
	return m
}

// Encode returns the code [N, 32] of images x [N, 1, 28, 28].
func (m *MnistAE) Encode(x *autograd.Var) *autograd.Var {
	return m.FC.Forward(m.Encoder.Forward(x))
}

// Forward returns the reconstruction [N, 1, 28, 28] of x.
func (m *MnistAE) Forward(x *autograd.Var) *autograd.Var {
	return m.Decoder.Forward(m.Encode(x))
}

// Reconstruct is Forward.
func (m *MnistAE) Reconstruct(x *autograd.Var) *autograd.Var { return m.Forward(x) }

// ReconstructionLoss is the training objective: the mean squared error
// between Forward(x) and x itself. Gradients flow into x through both uses
// when x requires them, as in PyTorch's mse_loss(model(x), x).
func (m *MnistAE) ReconstructionLoss(x *autograd.Var) *autograd.Var {
	return nn.MSELoss(m.Forward(x), x)
}
