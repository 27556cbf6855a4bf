package backbone

import (
	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
)

// Tapped is a backbone that yields, from one forward pass, its output h and
// the three intermediate feature maps METHOD.md section 6 names (tap1, tap2,
// tap3), each global-average-pooled to [N, C]. The feature ensemble of the
// test procedure needs all four, and one pass costs a quarter of the
// reference's four.
type Tapped interface {
	// ForwardTaps returns h [N, OutDim()] and the pooled taps [N, TapDims()[i]].
	ForwardTaps(x *autograd.Var) (h *autograd.Var, taps [3]*autograd.Var)
	// OutDim is enc_out_dim, the width of h.
	OutDim() int
	// TapDims are the channel counts of the three taps.
	TapDims() [3]int
}

// relu is the ReLU of the hand-written forwards (resnet18, densenet,
// wresnet, the ResNet autoencoder). It is a variable only so that the golden
// tests can replay the float64 reference's decisions at pre-activations
// within rounding distance of zero (kinks_test.go); nothing else assigns it.
var relu = autograd.Relu

// bnRelu and bnAddRelu are the fused batch norm + ReLU and batch norm +
// residual add + ReLU of the hand-written forwards: one or two activation
// tensors less kept for backward per use. They are variables for the same
// reason as relu: the golden tests replace them by relu over the unfused
// ops.
var (
	bnRelu    = (*nn.BatchNorm2d).ForwardReLU
	bnAddRelu = (*nn.BatchNorm2d).ForwardAddReLU
)

// stage is the reference's DenseBlock (densenet) and NetworkBlock
// (wresnet): a module whose one child, "layer", is the Sequential of its
// blocks, applied in order. It holds nothing itself; it exists so that the
// keys are the reference's ("block1.layer.0.bn1.weight").
type stage struct {
	nn.Base
	layer *nn.Sequential
}

func newStage(blocks ...nn.Module) *stage {
	s := &stage{layer: nn.NewSequential(blocks...)}
	s.RegisterModule("layer", s.layer)
	return s
}

// Forward runs x through the blocks.
func (s *stage) Forward(x *autograd.Var) *autograd.Var { return s.layer.Forward(x) }
