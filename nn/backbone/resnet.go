package backbone

import (
	"math/rand/v2"
	"strconv"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// ResNet18OutDim is enc_out_dim of the resnet18 encoder.
const ResNet18OutDim = 512

// BasicBlock is torchvision's ResNet basic block: conv3x3 (stride s), BN,
// ReLU, conv3x3, BN, plus the identity or, when the shape changes, a
// "downsample" Sequential of a strided 1×1 convolution and a BN; ReLU after
// the sum. Keys: conv1, bn1, conv2, bn2, downsample.0, downsample.1.
type BasicBlock struct {
	nn.Base
	Conv1, Conv2 *nn.Conv2d
	BN1, BN2     *nn.BatchNorm2d
	Downsample   *nn.Sequential // nil for the identity shortcut
}

// convMaker makes a bias-free convolution (in, out, kernel, stride,
// padding); it decides the initialization, the one thing in which the
// torchvision ResNet-18 (Kaiming normal) and the Bolts autoencoder's encoder
// (PyTorch's default) differ.
type convMaker func(rng *rand.Rand, in, out, k, stride, pad int) *nn.Conv2d

// newBasicBlock builds a block from in to out channels with convolutions
// from conv and batch norms of ones and zeros.
func newBasicBlock(rng *rand.Rand, conv convMaker, in, out, stride int) *BasicBlock {
	b := &BasicBlock{
		Conv1: conv(rng, in, out, 3, stride, 1),
		BN1:   nn.NewBatchNorm2d(out, true),
		Conv2: conv(rng, out, out, 3, 1, 1),
		BN2:   nn.NewBatchNorm2d(out, true),
	}
	b.RegisterModule("conv1", b.Conv1)
	b.RegisterModule("bn1", b.BN1)
	b.RegisterModule("conv2", b.Conv2)
	b.RegisterModule("bn2", b.BN2)
	if stride != 1 || in != out {
		b.Downsample = nn.NewSequential(conv(rng, in, out, 1, stride, 0), nn.NewBatchNorm2d(out, true))
		b.Downsample.DiscardIntermediates = true
		b.RegisterModule("downsample", b.Downsample)
	}
	return b
}

// resnetConv is a bias-free convolution with torchvision's ResNet
// initialization, kaiming_normal_(mode="fan_out", nonlinearity="relu").
func resnetConv(rng *rand.Rand, in, out, k, stride, pad int) *nn.Conv2d {
	c := nn.NewConv2d(rng, in, out, k, stride, pad, false)
	nn.KaimingNormal(c.Weight.Value(), rng, 0, nn.FanOut, "relu")
	return c
}

// plainConv is a bias-free convolution with PyTorch's default
// initialization.
func plainConv(rng *rand.Rand, in, out, k, stride, pad int) *nn.Conv2d {
	return nn.NewConv2d(rng, in, out, k, stride, pad, false)
}

// Forward returns relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
func (b *BasicBlock) Forward(x *autograd.Var) *autograd.Var {
	// In inference each intermediate goes back for reuse once consumed
	// (autograd.DiscardUnrecorded; with a graph nothing is discarded).
	mark := tensor.AllocMark()
	c1 := b.Conv1.Forward(x)
	y := bnRelu(b.BN1, c1)
	autograd.DiscardUnrecorded(mark, c1)
	c2 := b.Conv2.Forward(y)
	autograd.DiscardUnrecorded(mark, y)
	s := x
	if b.Downsample != nil {
		s = b.Downsample.Forward(x)
	}
	out := bnAddRelu(b.BN2, c2, s)
	autograd.DiscardUnrecorded(mark, c2)
	if s != x {
		autograd.DiscardUnrecorded(mark, s)
	}
	return out
}

// ResNet18 is the reference's CIFAR ResNet-18 encoder (nets.py
// resnet18_cifar: torchvision's resnet18 with a 3×3 stride-1 stem, no max
// pool and the classifier replaced by Identity). Its state_dict keys are
// torchvision's: "conv1.weight", "bn1.*", "layer1.0.conv1.weight", ...,
// "layer4.1.bn2.num_batches_tracked"; the Identity modules hold nothing.
type ResNet18 struct {
	nn.Base
	Conv1  *nn.Conv2d
	BN1    *nn.BatchNorm2d
	Layers [4]*nn.Sequential // layer1..layer4, two BasicBlocks each
}

// NewResNet18 builds the encoder with the reference's initialization: the
// authors' ResNetEncoder (models/resnet_encoders.py, resnet18_encoder) has
// no init loop, so every convolution has PyTorch's default (Kaiming
// uniform with a = sqrt(5), U(±1/sqrt(fan_in))) and every batch norm ones
// and zeros. torchvision's resnet18, whose keys these are, would instead
// draw its block convolutions Kaiming normal (fan-out); an earlier version
// did that.
func NewResNet18(rng *rand.Rand) *ResNet18 { return newResNet18(rng, plainConv) }

// newResNet18 builds the CIFAR ResNet-18 with the blocks' convolutions
// (not the stem's, always PyTorch's default) from conv.
func newResNet18(rng *rand.Rand, conv convMaker) *ResNet18 {
	r := &ResNet18{
		Conv1: nn.NewConv2d(rng, 3, 64, 3, 1, 1, false),
		BN1:   nn.NewBatchNorm2d(64, true),
	}
	r.RegisterModule("conv1", r.Conv1)
	r.RegisterModule("bn1", r.BN1)
	in := 64
	for i, c := range [4]int{64, 128, 256, 512} {
		stride := 2
		if i == 0 {
			stride = 1
		}
		r.Layers[i] = nn.NewSequential(newBasicBlock(rng, conv, in, c, stride), newBasicBlock(rng, conv, c, c, 1))
		r.Layers[i].DiscardIntermediates = true
		r.RegisterModule("layer"+strconv.Itoa(i+1), r.Layers[i])
		in = c
	}
	return r
}

// Forward returns h [N, 512] for x [N, 3, 32, 32].
func (r *ResNet18) Forward(x *autograd.Var) *autograd.Var {
	h, _ := r.forward(x, false)
	return h
}

// ForwardTaps returns h and the pooled outputs of stages 1, 2 and 3 from
// one pass.
func (r *ResNet18) ForwardTaps(x *autograd.Var) (h *autograd.Var, taps [3]*autograd.Var) {
	return r.forward(x, true)
}

func (r *ResNet18) forward(x *autograd.Var, withTaps bool) (*autograd.Var, [3]*autograd.Var) {
	return resnetForward(r.Conv1, r.BN1, &r.Layers, x, withTaps)
}

// resnetForward is the pass ResNet18 and ResNet50 share: the stem's
// conv+BN+ReLU, the four stages, the taps after stages 1..3 and global
// average pooling; in inference each consumed intermediate goes back for
// reuse.
func resnetForward(conv1 *nn.Conv2d, bn1 *nn.BatchNorm2d, layers *[4]*nn.Sequential, x *autograd.Var, withTaps bool) (*autograd.Var, [3]*autograd.Var) {
	var taps [3]*autograd.Var
	mark := tensor.AllocMark() // the caller's x is older: never discarded
	c := conv1.Forward(x)
	x = bnRelu(bn1, c)
	autograd.DiscardUnrecorded(mark, c)
	for i, l := range layers {
		in := x
		x = l.Forward(x)
		autograd.DiscardUnrecorded(mark, in)
		if withTaps && i < 3 {
			taps[i] = globalPoolFlat(x)
		}
	}
	h := globalPoolFlat(x)
	autograd.DiscardUnrecorded(mark, x)
	return h, taps
}

// OutDim is 512.
func (r *ResNet18) OutDim() int { return ResNet18OutDim }

// TapDims are 64, 128, 256.
func (r *ResNet18) TapDims() [3]int { return [3]int{64, 128, 256} }
