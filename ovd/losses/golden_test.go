package losses

import (
	"math"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/safetensors"
	"github.com/vmdls-go/vmdls/tensor"
)

// The golden file holds the reference's formulas evaluated by PyTorch in
// float64 on float32 inputs (testdata/gen_losses.py). Our results are
// float32, hence the tolerances: 1e-5 relative on the loss, 1e-4 normwise
// on the gradients.
const (
	goldenPath    = "testdata/losses_golden.safetensors"
	goldenLossTol = 1e-5
	goldenGradTol = 1e-4
)

type golden struct {
	t *testing.T
	f *safetensors.File
}

func openGolden(t *testing.T) golden {
	t.Helper()
	f, err := safetensors.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	return golden{t, f}
}

func (g golden) tensor(name string) safetensors.Tensor {
	g.t.Helper()
	x, ok := g.f.Get(name)
	if !ok {
		g.t.Fatalf("%s: no tensor %q", goldenPath, name)
	}
	return x
}

func (g golden) f32(name string) ([]float32, []int) {
	g.t.Helper()
	x := g.tensor(name)
	v, err := x.Float32s()
	if err != nil {
		g.t.Fatal(err)
	}
	return v, x.Shape
}

func (g golden) f64(name string) []float64 {
	g.t.Helper()
	v, err := g.tensor(name).Float64s()
	if err != nil {
		g.t.Fatal(err)
	}
	return v
}

func (g golden) ints(name string) []int {
	g.t.Helper()
	v, err := g.tensor(name).Int64s()
	if err != nil {
		g.t.Fatal(err)
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func (g golden) cases(key string) []string {
	g.t.Helper()
	s := g.f.Metadata[key]
	if s == "" {
		g.t.Fatalf("%s: metadata %q missing", goldenPath, key)
	}
	return strings.Split(s, ",")
}

func checkLoss(t *testing.T, what string, got float32, want float64) {
	t.Helper()
	if want == 0 {
		if got != 0 {
			t.Errorf("%s %g, PyTorch 0", what, got)
		}
		return
	}
	e := math.Abs(float64(got)-want) / math.Abs(want)
	t.Logf("%s: rel err %.2g", what, e)
	if e > goldenLossTol {
		t.Errorf("%s %.9g, PyTorch %.9g (rel err %.2g)", what, got, want, e)
	}
}

func checkGrad(t *testing.T, what string, got *tensor.Tensor, want []float64) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no gradient", what)
	}
	e := relNormErr(got.Data(), want)
	t.Logf("%s: normwise rel err %.2g", what, e)
	if e > goldenGradTol {
		t.Errorf("%s: normwise rel err %.3g vs PyTorch", what, e)
	}
}

func TestTripletGolden(t *testing.T) {
	g := openGolden(t)
	for _, name := range g.cases("triplet_cases") {
		t.Run(name, func(t *testing.T) {
			z, shape := g.f32(name + ".z")
			labels := g.ints(name + ".labels")
			margin, _ := g.f32(name + ".margin")
			neg, _ := g.f32(name + ".neg_margin")
			zv := autograd.Param(tensor.FromSlice(z, shape...))
			loss, stats := TripletDistancing(zv, labels, margin[0], neg[0])
			want := TripletStats{Triplets: g.ints(name + ".triplets")[0], Positive: g.ints(name + ".positive")[0]}
			if stats != want {
				t.Fatalf("stats %+v, PyTorch %+v", stats, want)
			}
			checkLoss(t, "loss", loss.Value().Item(), g.f64(name + ".loss")[0])
			if err := loss.Backward(); err != nil {
				t.Fatal(err)
			}
			checkGrad(t, "grad z", zv.Grad(), g.f64(name+".grad_z"))
		})
	}
}

func TestKLGolden(t *testing.T) {
	g := openGolden(t)
	for _, name := range g.cases("kl_cases") {
		t.Run(name, func(t *testing.T) {
			labels := g.ints(name + ".labels")
			classNum := g.ints(name + ".class_num")[0]
			coeff, _ := g.f32(name + ".coeff")
			means, ms := g.f32(name + ".means")
			meansT := tensor.FromSlice(means, ms...)
			load := func(s string) *tensor.Tensor {
				v, shape := g.f32(name + "." + s)
				return tensor.FromSlice(v, shape...)
			}

			// z as its own leaf: the partial derivatives.
			z, mu, lv := autograd.Param(load("z")), autograd.Param(load("mu")), autograd.Param(load("logvar"))
			loss := MonteCarloKL(z, mu, lv, labels, meansT, classNum, coeff[0])
			checkLoss(t, "loss", loss.Value().Item(), g.f64(name + ".loss")[0])
			if err := loss.Backward(); err != nil {
				t.Fatal(err)
			}
			checkGrad(t, "grad z", z.Grad(), g.f64(name+".grad_z"))
			checkGrad(t, "grad mu", mu.Grad(), g.f64(name+".grad_mu"))
			checkGrad(t, "grad logvar", lv.Grad(), g.f64(name+".grad_logvar"))

			// z = mu + exp(logvar / 2) * eps in the graph: the total derivatives.
			mu2, lv2 := autograd.Param(load("mu")), autograd.Param(load("logvar"))
			loss2 := reparamKL(mu2, lv2, load("eps"), labels, meansT, classNum, coeff[0])
			checkLoss(t, "loss (reparameterized)", loss2.Value().Item(), g.f64(name + ".loss_total")[0])
			if err := loss2.Backward(); err != nil {
				t.Fatal(err)
			}
			checkGrad(t, "grad mu (total)", mu2.Grad(), g.f64(name+".grad_mu_total"))
			checkGrad(t, "grad logvar (total)", lv2.Grad(), g.f64(name+".grad_logvar_total"))
		})
	}
}
