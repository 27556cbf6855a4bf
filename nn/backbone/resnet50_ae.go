package backbone

import (
	"math/rand/v2"
	"strconv"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
)

// ResNet50AE is the reference's CIFAR-100 autoencoder (models/vae.py's
// ae_dict["cifar100_known"], trained by models/train_resnet_ae.py): Bolts'
// AE with enc_type "resnet50", enc_out_dim 2048, latent_dim 256,
// input_height 32. Its children are those of the Bolts AE in its order,
// "encoder" (resnet50_encoder(False, False)), "decoder" (resnet50_decoder)
// and "fc" (Linear(2048, 256)), so the authors' checkpoint loads key for
// key.
type ResNet50AE struct {
	nn.Base
	Encoder *ResNet50
	Decoder *ResNet50Decoder
	FC      *nn.Linear
}

var _ Autoencoder = (*ResNet50AE)(nil)

// NewResNet50AE builds the autoencoder with PyTorch's default
// initialization (Bolts sets none) drawn from rng in the Bolts
// construction order: encoder, decoder, fc.
func NewResNet50AE(rng *rand.Rand) *ResNet50AE {
	m := &ResNet50AE{Encoder: NewResNet50(rng)}
	m.RegisterModule("encoder", m.Encoder)
	m.Decoder = NewResNet50Decoder(rng, ResNetAELatentDim)
	m.RegisterModule("decoder", m.Decoder)
	m.FC = nn.NewLinear(rng, ResNet50OutDim, ResNetAELatentDim, true)
	m.RegisterModule("fc", m.FC)
	return m
}

// Encode returns the latent code z [N, 256] of x [N, 3, 32, 32].
func (m *ResNet50AE) Encode(x *autograd.Var) *autograd.Var {
	return m.FC.Forward(m.Encoder.Forward(x))
}

// Forward returns the reconstruction [N, 3, 32, 32] of x (no output
// nonlinearity, as Bolts').
func (m *ResNet50AE) Forward(x *autograd.Var) *autograd.Var {
	return m.Decoder.Forward(m.Encode(x))
}

// Reconstruct is Forward.
func (m *ResNet50AE) Reconstruct(x *autograd.Var) *autograd.Var { return m.Forward(x) }

// ReconstructionLoss is the Bolts AE's step loss, mse_loss(x_hat, x).
func (m *ResNet50AE) ReconstructionLoss(x *autograd.Var) *autograd.Var {
	return nn.MSELoss(m.Forward(x), x)
}

// DecoderBottleneck is Bolts' decoder bottleneck: a 1×1 convolution to
// the inner width, BN, ReLU, a resize convolution (nearest upsampling by
// scale, 3×3 convolution; a plain 3×3 at scale 1), BN, ReLU, a 1×1
// convolution to four times the inner width, BN; the shortcut is the
// identity or "upsample" (a resize 1×1 convolution and a BN); ReLU after
// the sum. At scale 2 the keys are conv2.1.weight and upsample.0.1.weight,
// as in Bolts.
type DecoderBottleneck struct {
	nn.Base
	Conv1, Conv3  *nn.Conv2d
	Conv2         nn.Module // *nn.Conv2d, or Sequential(Upsample, Conv2d)
	BN1, BN2, BN3 *nn.BatchNorm2d
	Upsample      *nn.Sequential // nil for the identity shortcut
}

// newDecoderBottleneck builds a block from in channels at inner width
// planes upsampling by scale, the shortcut first as Bolts' _make_layer
// builds it.
func newDecoderBottleneck(rng *rand.Rand, in, planes, scale int) *DecoderBottleneck {
	out := planes * bottleneckExpansion
	b := &DecoderBottleneck{}
	if scale != 1 || in != out {
		b.Upsample = nn.NewSequential(resizeConv(rng, in, out, 1, scale), nn.NewBatchNorm2d(out, true))
	}
	b.Conv1, b.BN1 = plainConv(rng, in, planes, 1, 1, 0), nn.NewBatchNorm2d(planes, true)
	b.Conv2, b.BN2 = resizeConv(rng, planes, planes, 3, scale), nn.NewBatchNorm2d(planes, true)
	b.Conv3, b.BN3 = plainConv(rng, planes, out, 1, 1, 0), nn.NewBatchNorm2d(out, true)
	b.RegisterModule("conv1", b.Conv1)
	b.RegisterModule("bn1", b.BN1)
	b.RegisterModule("conv2", b.Conv2)
	b.RegisterModule("bn2", b.BN2)
	b.RegisterModule("conv3", b.Conv3)
	b.RegisterModule("bn3", b.BN3)
	if b.Upsample != nil {
		b.RegisterModule("upsample", b.Upsample)
	}
	return b
}

// Forward returns relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x)).
func (b *DecoderBottleneck) Forward(x *autograd.Var) *autograd.Var {
	y := bnRelu(b.BN1, b.Conv1.Forward(x))
	y = bnRelu(b.BN2, b.Conv2.Forward(y))
	y = b.Conv3.Forward(y)
	s := x
	if b.Upsample != nil {
		s = b.Upsample.Forward(x)
	}
	return bnAddRelu(b.BN3, y, s)
}

// ResNet50Decoder is Bolts' resnet50_decoder for 32×32 images without the
// ImageNet stem: Linear(latent, 2048·4·4) viewed as 2048×4×4, four stages
// of DecoderBottlenecks [3, 4, 6, 3] of inner widths 256, 128, 64, 64
// (the first three upsampling by 2: 4→8→16→32; the last at scale 1, whose
// first block keeps the identity shortcut since 256 channels come in and
// go out) and a bias-free 3×3 convolution from 256 to 3 channels. Keys:
// linear.*, layer1 ... layer4, conv1.weight; Bolts' two Interpolate
// modules are identities at this size and hold no state.
type ResNet50Decoder struct {
	nn.Base
	Linear *nn.Linear
	Layers [4]*nn.Sequential
	Conv1  *nn.Conv2d
}

// NewResNet50Decoder builds the decoder from a latentDim-wide code with
// PyTorch's default initialization drawn from rng.
func NewResNet50Decoder(rng *rand.Rand, latentDim int) *ResNet50Decoder {
	in := 512 * bottleneckExpansion
	d := &ResNet50Decoder{Linear: nn.NewLinear(rng, latentDim, in*resnetAEStem*resnetAEStem, true)}
	d.RegisterModule("linear", d.Linear)
	for i, spec := range [4][3]int{{256, 3, 2}, {128, 4, 2}, {64, 6, 2}, {64, 3, 1}} {
		planes, blocks, scale := spec[0], spec[1], spec[2]
		s := nn.NewSequential(newDecoderBottleneck(rng, in, planes, scale))
		in = planes * bottleneckExpansion
		for range blocks - 1 {
			s.Append(newDecoderBottleneck(rng, in, planes, 1))
		}
		d.Layers[i] = s
		d.RegisterModule("layer"+strconv.Itoa(i+1), s)
	}
	d.Conv1 = plainConv(rng, 64*bottleneckExpansion, 3, 3, 1, 1)
	d.RegisterModule("conv1", d.Conv1)
	return d
}

// Forward returns the image [N, 3, 32, 32] decoded from z [N, latentDim].
func (d *ResNet50Decoder) Forward(z *autograd.Var) *autograd.Var {
	x := d.Linear.Forward(z)
	x = autograd.Reshape(x, z.Shape()[0], 512*bottleneckExpansion, resnetAEStem, resnetAEStem)
	for _, l := range d.Layers {
		x = l.Forward(x)
	}
	return d.Conv1.Forward(x)
}
