package losses

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// logNormal is torch.distributions.Normal(mean, std).log_prob(x) in float64.
func logNormal(x, mean, std float64) float64 {
	e := x - mean
	return -e*e/(2*std*std) - math.Log(std) - 0.5*math.Log(2*math.Pi)
}

// bruteKL is vae.py's loop written out: per present class, in ascending
// order, coeff * mean(log_qz - log_pz) / P.
func bruteKL(z, mu, lv, means []float32, labels []int, d, classNum int, coeff float64) float64 {
	present := map[int]bool{}
	maxY := 0
	for _, y := range labels {
		present[y] = true
		maxY = max(maxY, y)
	}
	var kl float64
	for c := 0; c <= maxY; c++ {
		if !present[c] {
			continue
		}
		std := 0.1
		if c >= classNum {
			std = 1
		}
		var s float64
		n := 0
		for i, y := range labels {
			if y != c {
				continue
			}
			for k := range d {
				j := i*d + k
				var m float64
				if means != nil {
					m = float64(means[c*d+k])
				}
				lq := logNormal(float64(z[j]), float64(mu[j]), math.Exp(float64(lv[j])/2))
				s += lq - logNormal(float64(z[j]), m, std)
				n++
			}
		}
		kl += coeff * (s / float64(n)) / float64(len(present))
	}
	return kl
}

type klBatch struct {
	z, mu, lv, eps, means []float32
	labels                []int
	d, classNum           int
}

func randKLBatch(seed uint64, labels []int, d, classNum, rows int) klBatch {
	rng := rand.New(rand.NewPCG(seed, 17))
	b := len(labels)
	k := klBatch{labels: labels, d: d, classNum: classNum}
	k.mu, k.lv, k.eps, k.z = make([]float32, b*d), make([]float32, b*d), make([]float32, b*d), make([]float32, b*d)
	for i := range k.mu {
		k.mu[i] = float32(rng.NormFloat64())
		k.lv[i] = float32(rng.Float64()*4 - 3)
		k.eps[i] = float32(rng.NormFloat64())
		k.z[i] = k.mu[i] + float32(math.Exp(float64(k.lv[i])/2))*k.eps[i]
	}
	k.means = make([]float32, rows*d)
	for i := range k.means {
		k.means[i] = float32(0.5 * rng.NormFloat64())
	}
	return k
}

func (k klBatch) tensors() []*tensor.Tensor {
	b := len(k.labels)
	return []*tensor.Tensor{tensor.FromSlice(k.z, b, k.d), tensor.FromSlice(k.mu, b, k.d), tensor.FromSlice(k.lv, b, k.d)}
}

func (k klBatch) meansTensor() *tensor.Tensor {
	return tensor.FromSlice(k.means, len(k.means)/k.d, k.d)
}

func TestKLMatchesFormula(t *testing.T) {
	cases := map[string]klBatch{
		"all_known":   randKLBatch(1, []int{0, 1, 2, 1, 0, 2, 2, 1, 0, 0}, 5, 3, 3),
		"absent":      randKLBatch(2, []int{3, 0, 3, 3, 0, 5, 0}, 4, 6, 6),
		"unknown_std": randKLBatch(3, []int{0, 2, 2, 1, 0, 2, 1}, 3, 2, 3),
	}
	for name, k := range cases {
		t.Run(name, func(t *testing.T) {
			want := bruteKL(k.z, k.mu, k.lv, k.means, k.labels, k.d, k.classNum, 0.1)
			ts := k.tensors()
			got := MonteCarloKL(autograd.Const(ts[0]), autograd.Const(ts[1]), autograd.Const(ts[2]), k.labels, k.meansTensor(), k.classNum, 0.1)
			if e := math.Abs(float64(got.Value().Item())-want) / math.Abs(want); e > 1e-6 {
				t.Fatalf("KL %.9g, formula %.9g (rel err %.2g)", got.Value().Item(), want, e)
			}
		})
	}
}

// TestKLNilMeans: nil class means are the zeros of epoch 0.
func TestKLNilMeans(t *testing.T) {
	k := randKLBatch(4, []int{0, 1, 1, 0, 2}, 3, 3, 3)
	ts := k.tensors()
	withNil := MonteCarloKL(autograd.Const(ts[0]), autograd.Const(ts[1]), autograd.Const(ts[2]), k.labels, nil, 3, 0.5).Value().Item()
	withZeros := MonteCarloKL(autograd.Const(ts[0]), autograd.Const(ts[1]), autograd.Const(ts[2]), k.labels, tensor.Zeros(3, 3), 3, 0.5).Value().Item()
	want := bruteKL(k.z, k.mu, k.lv, nil, k.labels, 3, 3, 0.5)
	if withNil != withZeros || math.Abs(float64(withNil)-want) > 1e-6*math.Abs(want) {
		t.Fatalf("nil means %g, zero means %g, formula %g", withNil, withZeros, want)
	}
}

// TestKLCheckGrad checks the closed-form partial derivatives with z, mu and
// logvar as independent inputs.
func TestKLCheckGrad(t *testing.T) {
	k := randKLBatch(5, []int{0, 2, 1, 2, 0, 3, 1}, 3, 3, 4)
	means := k.meansTensor()
	err := autograd.CheckGrad(func(xs []*autograd.Var) *autograd.Var {
		return MonteCarloKL(xs[0], xs[1], xs[2], k.labels, means, k.classNum, 0.1)
	}, k.tensors(), autograd.CheckOptions{Step: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
}

// reparamKL builds z = mu + exp(logvar / 2) * eps in the graph, as the
// model does, and applies MonteCarloKL, so gradients reach mu and logvar
// along both paths.
func reparamKL(mu, lv *autograd.Var, eps *tensor.Tensor, labels []int, means *tensor.Tensor, classNum int, coeff float32) *autograd.Var {
	z := autograd.Add(mu, autograd.Mul(autograd.Exp(autograd.MulScalar(lv, 0.5)), autograd.Const(eps)))
	return MonteCarloKL(z, mu, lv, labels, means, classNum, coeff)
}

func TestKLCheckGradReparameterized(t *testing.T) {
	k := randKLBatch(6, []int{1, 0, 1, 1, 0, 2}, 4, 2, 3)
	b := len(k.labels)
	eps, means := tensor.FromSlice(k.eps, b, k.d), k.meansTensor()
	err := autograd.CheckGrad(func(xs []*autograd.Var) *autograd.Var {
		return reparamKL(xs[0], xs[1], eps, k.labels, means, k.classNum, 0.1)
	}, []*tensor.Tensor{tensor.FromSlice(k.mu, b, k.d), tensor.FromSlice(k.lv, b, k.d)}, autograd.CheckOptions{Step: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
}

func TestKLPanicsOnLabelWithoutMean(t *testing.T) {
	k := randKLBatch(7, []int{0, 1, 3}, 2, 3, 3)
	ts := k.tensors()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a label beyond the class means")
		}
	}()
	MonteCarloKL(autograd.Const(ts[0]), autograd.Const(ts[1]), autograd.Const(ts[2]), k.labels, k.meansTensor(), 3, 0.1)
}
