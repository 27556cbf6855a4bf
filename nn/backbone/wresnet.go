package backbone

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// WideResNetOutDim is enc_out_dim of the wresnet encoder (WideResNet-28-10).
const WideResNetOutDim = 640

// wrnBlock is the reference's BasicBlock (models/wide_resnet.py), a
// pre-activation wide block: BN-ReLU-3×3 conv (with the stride), BN-ReLU,
// dropout, 3×3 conv, plus the identity or, when the width changes, a 1×1
// convolution of the first activation. Children "bn1", "conv1", "bn2",
// "conv2" and, when present, "convShortcut", the reference's names. The
// dropout holds no state and is not a child (the reference calls
// F.dropout).
type wrnBlock struct {
	nn.Base
	bn1, bn2     *nn.BatchNorm2d
	conv1, conv2 *nn.Conv2d
	short        *nn.Conv2d // nil when in == out
	drop         float64
	rng          *rand.Rand
}

func newWRNBlock(rng *rand.Rand, cin, cout, stride int, drop float64) *wrnBlock {
	b := &wrnBlock{drop: drop, rng: rng}
	b.bn1 = nn.NewBatchNorm2d(cin, true)
	b.RegisterModule("bn1", b.bn1)
	b.conv1 = nn.NewConv2d(rng, cin, cout, 3, stride, 1, false)
	b.RegisterModule("conv1", b.conv1)
	b.bn2 = nn.NewBatchNorm2d(cout, true)
	b.RegisterModule("bn2", b.bn2)
	b.conv2 = nn.NewConv2d(rng, cout, cout, 3, 1, 1, false)
	b.RegisterModule("conv2", b.conv2)
	if cin != cout {
		b.short = nn.NewConv2d(rng, cin, cout, 1, stride, 0, false)
		b.RegisterModule("convShortcut", b.short)
	}
	return b
}

// Forward applies the block. Dropout acts in training mode only: unlike the
// reference (METHOD.md section 6), evaluation is deterministic.
func (b *wrnBlock) Forward(x *autograd.Var) *autograd.Var {
	o := bnRelu(b.bn1, x)
	// The shortcut is taken first so that neither x nor o outlives its
	// last use, and in inference each intermediate goes back for reuse
	// once consumed (autograd.DiscardUnrecorded; with a graph nothing is
	// discarded).
	mark := tensor.AllocMark()
	shortcut := x
	if b.short != nil {
		shortcut = b.short.Forward(o)
	}
	c := b.conv1.Forward(o)
	autograd.DiscardUnrecorded(mark, o)
	y := bnRelu(b.bn2, c)
	autograd.DiscardUnrecorded(mark, c)
	d := autograd.Dropout(y, b.drop, b.Training(), b.rng)
	if d != y {
		autograd.DiscardUnrecorded(mark, y)
	}
	y = b.conv2.Forward(d)
	autograd.DiscardUnrecorded(mark, d)
	out := autograd.Add(y, shortcut)
	autograd.DiscardUnrecorded(mark, y)
	if shortcut != x {
		autograd.DiscardUnrecorded(mark, shortcut)
	}
	return out
}

// WideResNet is the CIFAR pre-activation WideResNet encoder, the
// reference's WideResNet (models/wide_resnet.py): a 3×3 stem of 16
// channels, three groups of wide blocks (16k, 32k, 64k channels, strides 1,
// 2, 2), a final BN+ReLU and global average pooling. Its children are the
// reference's, in its order: "conv1", "block1", "block2", "block3", "bn1",
// each group's blocks under "layer", so the state_dict keys are the
// reference's ("conv1.weight", "block1.layer.0.bn1.weight",
// "block1.layer.0.convShortcut.weight", ..., "bn1.num_batches_tracked").
// The reference's WideResNet has no classifier (it takes num_classes and
// ignores it), so neither has this.
type WideResNet struct {
	nn.Base
	conv1   *nn.Conv2d
	blocks  [3]*stage
	bn1     *nn.BatchNorm2d
	outDim  int
	tapDims [3]int
}

// NewWideResNet builds the wresnet encoder of METHOD.md section 6:
// WideResNet-28-10 with dropout 0.1, output width 640. Its weights follow
// PyTorch's default initialization, as the reference's do; its dropout
// masks are drawn from rng too.
func NewWideResNet(rng *rand.Rand) *WideResNet { return NewWideResNetWith(rng, 28, 10, 0.1) }

// NewWideResNetWith builds a WideResNet of the given depth (4 + 6n: three
// groups of n blocks), widen factor and dropout probability, the
// reference's WideResNet(depth, _, widen, drop); narrow ones serve tests.
func NewWideResNetWith(rng *rand.Rand, depth, widen int, drop float64) *WideResNet {
	if depth < 10 || (depth-4)%6 != 0 || widen < 1 || drop < 0 || drop >= 1 {
		panic(fmt.Sprintf("backbone.NewWideResNetWith: invalid depth=%d widen=%d drop=%v", depth, widen, drop))
	}
	n := (depth - 4) / 6
	ch := [4]int{16, 16 * widen, 32 * widen, 64 * widen}
	w := &WideResNet{conv1: nn.NewConv2d(rng, 3, ch[0], 3, 1, 1, false)}
	w.RegisterModule("conv1", w.conv1)
	cin := ch[0]
	for g, s := range [3]int{1, 2, 2} {
		blocks := make([]nn.Module, n)
		for j := range blocks {
			stride := 1
			if j == 0 {
				stride = s
			}
			blocks[j] = newWRNBlock(rng, cin, ch[g+1], stride, drop)
			cin = ch[g+1]
		}
		w.blocks[g] = newStage(blocks...)
		w.RegisterModule("block"+strconv.Itoa(g+1), w.blocks[g])
		w.tapDims[g] = ch[g+1]
	}
	w.bn1 = nn.NewBatchNorm2d(cin, true)
	w.RegisterModule("bn1", w.bn1)
	w.outDim = cin
	return w
}

// Forward returns h [N, OutDim()] for x [N, 3, H, W].
func (w *WideResNet) Forward(x *autograd.Var) *autograd.Var {
	h, _ := w.ForwardTaps(x)
	return h
}

// ForwardTaps returns h and the pooled outputs of block groups 1 and 2 and
// h again (METHOD.md's third wresnet tap is the encoder output: the
// reference's get_layer_output(x, 3) returns forward(x)), from one pass.
func (w *WideResNet) ForwardTaps(x *autograd.Var) (*autograd.Var, [3]*autograd.Var) {
	var taps [3]*autograd.Var
	mark := tensor.AllocMark() // the caller's x is older: never discarded
	x = w.conv1.Forward(x)
	for g, blk := range w.blocks {
		in := x
		x = blk.Forward(x)
		autograd.DiscardUnrecorded(mark, in)
		if g < 2 {
			taps[g] = dwPool(x)
		}
	}
	a := bnRelu(w.bn1, x)
	autograd.DiscardUnrecorded(mark, x)
	h := dwPool(a)
	autograd.DiscardUnrecorded(mark, a)
	taps[2] = h
	return h, taps
}

// OutDim is the width of h (640 for WideResNet-28-10).
func (w *WideResNet) OutDim() int { return w.outDim }

// TapDims are the channels of block groups 1 and 2 and of h.
func (w *WideResNet) TapDims() [3]int { return w.tapDims }
