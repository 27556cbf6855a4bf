package backbone

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// TestUntappedInferChunked checks that a model whose encoder has no taps
// (mnist, cifar) still runs the chunked inference training's validation
// uses: h and mu equal one whole forward pass, and the taps are absent.
func TestUntappedInferChunked(t *testing.T) {
	for _, enc := range []string{"mnist", "cifar"} {
		m, err := NewModel(enc, 8, rand.New(rand.NewPCG(3, 4)))
		if err != nil {
			t.Fatal(err)
		}
		nn.SetTraining(m, false)
		info, _ := LookupEncoder(enc)
		rng := rand.New(rand.NewPCG(5, 6))
		x := tensor.Randn(rng, append([]int{5}, info.InputShape()...)...)
		f, err := m.InferChunked(x, 2)
		if err != nil {
			t.Fatal(err)
		}
		var mu *autograd.Var
		autograd.NoGrad(func() { mu = m.Forward(autograd.Const(x)) })
		if !slices.Equal(f.Mu.Shape(), []int{5, 8}) || !slices.Equal(f.H.Shape(), []int{5, info.OutDim}) {
			t.Fatalf("%s: H %v, Mu %v", enc, f.H.Shape(), f.Mu.Shape())
		}
		if e := normwiseErr(f.Mu, mu.Value()); e > 1e-6 {
			t.Errorf("%s: chunked mu differs from one pass by %g", enc, e)
		}
		for i, tp := range f.Taps {
			if tp != nil {
				t.Errorf("%s: tap %d is %v, want none", enc, i, tp.Shape())
			}
		}
	}
}
