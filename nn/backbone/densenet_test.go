package backbone

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

func TestDenseNetShapesAndTaps(t *testing.T) {
	net := NewDenseNet(rand.New(rand.NewPCG(3, 4)))
	if net.OutDim() != DenseNetOutDim || net.TapDims() != [3]int{108, 150, 342} {
		t.Fatalf("OutDim %d TapDims %v, want 342 [108 150 342]", net.OutDim(), net.TapDims())
	}
	nn.SetTraining(net, false)
	x := autograd.Const(tensor.FromSlice(dwFillValues("t", 2*3*32*32, -1, 1), 2, 3, 32, 32))
	h, taps := net.ForwardTaps(x)
	if sh := h.Shape(); sh[0] != 2 || sh[1] != 342 {
		t.Errorf("h shape %v", sh)
	}
	for i, d := range net.TapDims() {
		if sh := taps[i].Shape(); len(sh) != 2 || sh[0] != 2 || sh[1] != d {
			t.Errorf("tap %d shape %v, want [2 %d]", i, sh, d)
		}
	}
	if e := normwiseErr(net.Forward(x).Value(), h.Value()); e != 0 {
		t.Errorf("Forward differs from ForwardTaps' h by %g", e)
	}
}

// The reference draws every DenseNet conv weight from N(0, 2/16).
func TestDenseNetConvInit(t *testing.T) {
	net := NewDenseNet(rand.New(rand.NewPCG(5, 6)))
	var s, s2, n float64
	for _, p := range nn.NamedParameters(net) {
		if p.Value.Value().Dim() != 4 {
			continue
		}
		for _, v := range p.Value.Value().Data() {
			s += float64(v)
			s2 += float64(v) * float64(v)
			n++
		}
	}
	mean, std := s/n, math.Sqrt(s2/n-(s/n)*(s/n))
	if math.Abs(mean) > 0.005 || math.Abs(std-math.Sqrt(2.0/16)) > 0.005 {
		t.Errorf("conv weights: mean %.4f std %.4f over %.0f values, want 0 and %.4f", mean, std, n, math.Sqrt(2.0/16))
	}
}
