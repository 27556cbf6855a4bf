package backbone

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// TestTrainStepsRecyclingValues trains every backbone for three SGD steps
// with momentum twice, once with plain Backward and once handing the
// activations back with autograd.RecycleValues as ovd's training loop
// does, and wants the same weights bit for bit: the steps after the first
// run on recycled storage, much of it uncleared, so an op that reads its
// output before writing it, or a value used after its storage went back,
// would change them. CI also runs it with VMDLS_RECYCLE=poison, where
// recycled storage holds NaN and new uncleared storage too.
func TestTrainStepsRecyclingValues(t *testing.T) {
	for _, enc := range EncTypes() {
		info, _ := LookupEncoder(enc)
		const batch = 4
		t.Run(enc, func(t *testing.T) {
			plain := trainSteps(t, enc, info, batch, false)
			recycled := trainSteps(t, enc, info, batch, true)
			for i := range plain {
				a, b := plain[i].Data(), recycled[i].Data()
				for j := range a {
					if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
						t.Fatalf("parameter %d element %d: %v with recycled values, %v without", i, j, b[j], a[j])
					}
				}
			}
		})
	}
}

// trainSteps returns the parameters of enc's model after three steps of
// mean(mu²) + mean(logvar²) on fixed random images.
func trainSteps(t *testing.T, enc string, info EncoderInfo, batch int, recycle bool) []*tensor.Tensor {
	t.Helper()
	tensor.DropRecycled()
	m, err := NewModel(enc, 8, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	nn.SetTraining(m, true)
	opt, err := nn.NewSGD(nn.Parameters(m), nn.SGDOptions{LR: 0.01, Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	shape := append([]int{batch}, info.InputShape()...)
	x := tensor.Randn(rand.New(rand.NewPCG(3, 4)), shape...)
	for step := range 3 {
		opt.ZeroGrad()
		mark := tensor.AllocMark()
		mu, logvar := m.Encode(autograd.Const(x))
		loss := autograd.Add(autograd.Mean(autograd.Square(mu), false), autograd.Mean(autograd.Square(logvar), false))
		var opts []autograd.BackwardOption
		if recycle {
			opts = append(opts, autograd.RecycleValues(mark))
		}
		if err := loss.Backward(opts...); err != nil {
			t.Fatal(err)
		}
		if l := loss.Value().Item(); l != l {
			t.Fatalf("step %d: loss %v", step, l)
		}
		opt.Step()
	}
	var out []*tensor.Tensor
	for _, p := range nn.Parameters(m) {
		out = append(out, p.Value().Clone())
	}
	if len(out) == 0 {
		t.Fatalf("%s: no parameters", enc)
	}
	return out
}

// TestInferenceDiscardingIntermediates runs every encoder's ForwardTaps
// without a graph, where each intermediate goes back for reuse as soon as
// it is consumed (autograd.DiscardUnrecorded), with recycling off, on
// (twice, the second pass on the first one's storage, uncleared) and in
// poison mode (discarded storage filled with NaN), and wants the same h
// and taps bit for bit from all: a value read after it was discarded, or
// an op that leaves part of a reused output unwritten, would differ.
func TestInferenceDiscardingIntermediates(t *testing.T) {
	for _, enc := range EncTypes() {
		info, _ := LookupEncoder(enc)
		t.Run(enc, func(t *testing.T) {
			e, _, err := NewEncoder(enc, rand.New(rand.NewPCG(5, 6)))
			if err != nil {
				t.Fatal(err)
			}
			tapped, ok := e.(Tapped)
			if !ok {
				t.Skipf("%s has no taps", enc)
			}
			nn.SetTraining(e, false)
			x := tensor.Randn(rand.New(rand.NewPCG(7, 8)), append([]int{3}, info.InputShape()...)...)
			run := func(mode string) []*tensor.Tensor {
				prev, err := tensor.SetRecycle(mode)
				if err != nil {
					t.Fatal(err)
				}
				defer tensor.SetRecycle(prev)
				var out []*tensor.Tensor
				autograd.NoGrad(func() {
					h, taps := tapped.ForwardTaps(autograd.Const(x))
					out = []*tensor.Tensor{h.Value().Clone(), taps[0].Value().Clone(), taps[1].Value().Clone(), taps[2].Value().Clone()}
				})
				return out
			}
			tensor.DropRecycled()
			want := run("off")
			for _, mode := range []string{"on", "on", "poison"} {
				got := run(mode)
				for i := range got {
					a, b := want[i].Data(), got[i].Data()
					for j := range a {
						if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
							t.Fatalf("recycling %s: output %d element %d is %v, %v with recycling off", mode, i, j, b[j], a[j])
						}
					}
				}
			}
		})
	}
}
