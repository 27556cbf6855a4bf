package backbone

import (
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

func TestWideResNetShapes(t *testing.T) {
	net := NewWideResNet(rand.New(rand.NewPCG(3, 4)))
	if net.OutDim() != WideResNetOutDim || net.TapDims() != [3]int{160, 320, 640} {
		t.Fatalf("OutDim %d TapDims %v, want 640 [160 320 640]", net.OutDim(), net.TapDims())
	}
	narrow := NewWideResNetWith(rand.New(rand.NewPCG(3, 4)), 10, 1, 0.1)
	if narrow.OutDim() != 64 || narrow.TapDims() != [3]int{16, 32, 64} {
		t.Errorf("WRN-10-1: OutDim %d TapDims %v", narrow.OutDim(), narrow.TapDims())
	}
}

// Dropout acts in training only: eval passes are deterministic (unlike the
// reference) and training passes draw masks.
func TestWideResNetDropoutOnlyInTraining(t *testing.T) {
	net := NewWideResNetWith(rand.New(rand.NewPCG(7, 8)), 10, 1, 0.1)
	dwFill(net)
	x := autograd.Const(tensor.FromSlice(dwFillValues("t", 2*3*16*16, -1, 1), 2, 3, 16, 16))
	nn.SetTraining(net, false)
	a, b := net.Forward(x).Value(), net.Forward(x).Value()
	if e := normwiseErr(a, b); e != 0 {
		t.Errorf("two eval passes differ by %g", e)
	}
	nn.SetTraining(net, true)
	c, d := net.Forward(x).Value(), net.Forward(x).Value()
	if e := normwiseErr(c, d); e == 0 {
		t.Errorf("two training passes with dropout 0.1 agree exactly: no mask drawn")
	}
	h, taps := net.ForwardTaps(x)
	if sh := h.Shape(); sh[0] != 2 || sh[1] != 64 || taps[2] != h {
		t.Errorf("h shape %v, third tap is h: %v", sh, taps[2] == h)
	}
}
