package backbone

import (
	"math/rand/v2"
	"strconv"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// ResNet50OutDim is enc_out_dim of the resnet50 encoder.
const ResNet50OutDim = 2048

// bottleneckExpansion is the bottleneck blocks' output width over their
// inner width (Bolts' EncoderBottleneck.expansion).
const bottleneckExpansion = 4

// Bottleneck is the authors' EncoderBottleneck (models/resnet_encoders.py,
// Bolts' copy of torchvision's): 1×1 convolution to the inner width, BN,
// ReLU, 3×3 convolution carrying the stride, BN, ReLU, 1×1 convolution to
// four times the inner width, BN; plus the identity or the "downsample"
// Sequential (strided 1×1 convolution, BN); ReLU after the sum. Keys:
// conv1, bn1, conv2, bn2, conv3, bn3, downsample.0, downsample.1.
type Bottleneck struct {
	nn.Base
	Conv1, Conv2, Conv3 *nn.Conv2d
	BN1, BN2, BN3       *nn.BatchNorm2d
	Downsample          *nn.Sequential // nil for the identity shortcut
}

// newBottleneck builds a block from in channels at inner width planes,
// with PyTorch's default initialization, drawing the shortcut first as the
// reference's _make_layer builds it before the block.
func newBottleneck(rng *rand.Rand, in, planes, stride int) *Bottleneck {
	out := planes * bottleneckExpansion
	b := &Bottleneck{}
	if stride != 1 || in != out {
		b.Downsample = nn.NewSequential(plainConv(rng, in, out, 1, stride, 0), nn.NewBatchNorm2d(out, true))
		b.Downsample.DiscardIntermediates = true
	}
	b.Conv1, b.BN1 = plainConv(rng, in, planes, 1, 1, 0), nn.NewBatchNorm2d(planes, true)
	b.Conv2, b.BN2 = plainConv(rng, planes, planes, 3, stride, 1), nn.NewBatchNorm2d(planes, true)
	b.Conv3, b.BN3 = plainConv(rng, planes, out, 1, 1, 0), nn.NewBatchNorm2d(out, true)
	b.RegisterModule("conv1", b.Conv1)
	b.RegisterModule("bn1", b.BN1)
	b.RegisterModule("conv2", b.Conv2)
	b.RegisterModule("bn2", b.BN2)
	b.RegisterModule("conv3", b.Conv3)
	b.RegisterModule("bn3", b.BN3)
	if b.Downsample != nil {
		b.RegisterModule("downsample", b.Downsample)
	}
	return b
}

// Forward returns relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x)).
func (b *Bottleneck) Forward(x *autograd.Var) *autograd.Var {
	// In inference each intermediate goes back for reuse once consumed
	// (autograd.DiscardUnrecorded; with a graph nothing is discarded).
	mark := tensor.AllocMark()
	c := b.Conv1.Forward(x)
	y := bnRelu(b.BN1, c)
	autograd.DiscardUnrecorded(mark, c)
	c = b.Conv2.Forward(y)
	autograd.DiscardUnrecorded(mark, y)
	y = bnRelu(b.BN2, c)
	autograd.DiscardUnrecorded(mark, c)
	c = b.Conv3.Forward(y)
	autograd.DiscardUnrecorded(mark, y)
	s := x
	if b.Downsample != nil {
		s = b.Downsample.Forward(x)
	}
	out := bnAddRelu(b.BN3, c, s)
	autograd.DiscardUnrecorded(mark, c)
	if s != x {
		autograd.DiscardUnrecorded(mark, s)
	}
	return out
}

// ResNet50 is the reference's resnet50 encoder, resnet50_encoder(False,
// False) of models/resnet_encoders.py (the Bolts ResNetEncoder with
// bottleneck blocks [3, 4, 6, 3]): a 3×3 stride-1 stem of 64 channels, BN,
// ReLU, the kernel-1 max pool (an identity, no state), four stages of
// Bottlenecks of inner widths 64, 128, 256, 512 (outputs 256, 512, 1024,
// 2048; stages 2-4 stride 2) and global average pooling. PyTorch's default
// initialization everywhere (no init loop in the reference). Keys:
// conv1.weight, bn1.*, layer1.0.conv1.weight, ..., layer4.2.bn3.*.
type ResNet50 struct {
	nn.Base
	Conv1  *nn.Conv2d
	BN1    *nn.BatchNorm2d
	Layers [4]*nn.Sequential
}

// NewResNet50 builds the encoder with weights drawn from rng in PyTorch's
// construction order.
func NewResNet50(rng *rand.Rand) *ResNet50 {
	r := &ResNet50{Conv1: plainConv(rng, 3, 64, 3, 1, 1), BN1: nn.NewBatchNorm2d(64, true)}
	r.RegisterModule("conv1", r.Conv1)
	r.RegisterModule("bn1", r.BN1)
	in := 64
	for i, spec := range [4][2]int{{64, 3}, {128, 4}, {256, 6}, {512, 3}} {
		planes, blocks := spec[0], spec[1]
		stride := 2
		if i == 0 {
			stride = 1
		}
		s := nn.NewSequential(newBottleneck(rng, in, planes, stride))
		s.DiscardIntermediates = true
		in = planes * bottleneckExpansion
		for range blocks - 1 {
			s.Append(newBottleneck(rng, in, planes, 1))
		}
		r.Layers[i] = s
		r.RegisterModule("layer"+strconv.Itoa(i+1), s)
	}
	return r
}

// Forward returns h [N, 2048] for x [N, 3, 32, 32].
func (r *ResNet50) Forward(x *autograd.Var) *autograd.Var {
	h, _ := r.forward(x, false)
	return h
}

// ForwardTaps returns h and the pooled outputs of stages 1, 2 and 3 from
// one pass: the reference's get_layer_output(x, 1..3).
func (r *ResNet50) ForwardTaps(x *autograd.Var) (*autograd.Var, [3]*autograd.Var) {
	return r.forward(x, true)
}

func (r *ResNet50) forward(x *autograd.Var, withTaps bool) (*autograd.Var, [3]*autograd.Var) {
	return resnetForward(r.Conv1, r.BN1, &r.Layers, x, withTaps)
}

// OutDim is 2048.
func (r *ResNet50) OutDim() int { return ResNet50OutDim }

// TapDims are 256, 512, 1024.
func (r *ResNet50) TapDims() [3]int { return [3]int{256, 512, 1024} }
