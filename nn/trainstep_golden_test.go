package nn

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/internal/golden"
	"github.com/vmdls-go/vmdls/tensor"
)

// trainStepTol is the bound on the parameters after 5 steps,
// normwise per tensor (max|ours-torch| / max|torch|). PyTorch's own float32
// run is within 1e-6 of its float64 run (the generator records it).
const trainStepTol = 1e-4

// trainStepNet is the small net of nn/testdata/gen_trainsteps.py with its
// Sequential numbering (0 conv, 1 bn, 2 relu, 3 conv, 4 bn, 5 relu, 6 pool,
// 7 flatten, 8 linear).
func trainStepNet() *Sequential {
	rng := rand.New(rand.NewPCG(1, 1)) // overwritten by the file's weights
	return NewSequential(
		NewConv2d(rng, 1, 4, 3, 1, 1, false), NewBatchNorm2d(4, true), NewReLU(),
		NewConv2d(rng, 4, 6, 3, 2, 0, false), NewBatchNorm2d(6, true), NewReLU(),
		NewMaxPool2d(2, 0, 0), NewFlatten(), NewLinear(rng, 24, 3, true))
}

func loadTrainSteps(t *testing.T) *golden.File {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, err := golden.Load(filepath.Join(filepath.Dir(file), "testdata", "trainsteps.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestTrainStepsMatchPyTorch replays 5 training steps of a small conv net
// (convs, batch norm in training mode, ReLU, max pool, linear, MSE) with
// SGD (Nesterov momentum, weight decay) and with Adam from PyTorch's initial
// weights and data, and compares every parameter and running statistic
// with PyTorch's after the 5 steps.
func TestTrainStepsMatchPyTorch(t *testing.T) {
	f := loadTrainSteps(t)
	x := layerTensor(t, f, "x")
	target := layerTensor(t, f, "target")
	for _, tc := range []struct {
		name string
		opt  func(params []*autograd.Var) (Optimizer, error)
	}{
		{"sgd", func(p []*autograd.Var) (Optimizer, error) {
			return NewSGD(p, SGDOptions{LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4})
		}},
		{"adam", func(p []*autograd.Var) (Optimizer, error) {
			return NewAdam(p, AdamOptions{LR: 0.01, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := trainStepNet()
			sd := StateDict(net)
			var keys []string
			for _, e := range sd {
				keys = append(keys, "init."+e.Name)
			}
			var fileKeys []string
			for _, k := range f.Names() {
				if strings.HasPrefix(k, "init.") {
					fileKeys = append(fileKeys, k)
				}
			}
			slices.Sort(keys) // Names is sorted; the order itself is checked by the module tests
			if !slices.Equal(keys, fileKeys) {
				t.Fatalf("state_dict keys %v, PyTorch's %v", keys, fileKeys)
			}
			for _, e := range sd {
				e.Value.CopyFrom(layerTensor(t, f, "init."+e.Name))
			}
			opt, err := tc.opt(Parameters(net))
			if err != nil {
				t.Fatal(err)
			}
			for k := range 5 {
				opt.ZeroGrad()
				loss := MSELoss(net.Forward(autograd.Const(x)), autograd.Const(target))
				if err := loss.Backward(); err != nil {
					t.Fatal(err)
				}
				opt.Step()
				want := layerTensor(t, f, fmt.Sprintf("%s.step%d.loss", tc.name, k))
				if e := layerRelErr(tensor.Scalar(loss.Value().Item()), want); e > trainStepTol {
					t.Errorf("step %d: loss %v, PyTorch %v", k, loss.Value().Item(), want.Item())
				}
			}
			worst, worstKey := 0.0, ""
			for _, e := range sd {
				want := layerTensor(t, f, tc.name+".final."+e.Name)
				if !tensor.SameShape(e.Value, want) {
					t.Errorf("%s: shape %v, PyTorch %v", e.Name, e.Value.Shape(), want.Shape())
					continue
				}
				err := layerRelErr(e.Value, want)
				if err > worst {
					worst, worstKey = err, e.Name
				}
				if err > trainStepTol {
					t.Errorf("%s after 5 steps: normwise error %.3g > %.0e", e.Name, err, trainStepTol)
				}
			}
			t.Logf("%s: worst normwise error after 5 steps %.3g (%s)", tc.name, worst, worstKey)
		})
	}
}
