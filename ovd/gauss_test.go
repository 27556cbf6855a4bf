package ovd

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// randomCov returns a d×d covariance of rank r (r < d: singular).
func randomCov(rng *rand.Rand, d, r int) *mat.SymDense {
	a := mat.NewDense(r, d, nil)
	for i := range r {
		for j := range d {
			a.Set(i, j, rng.NormFloat64())
		}
	}
	var s mat.SymDense
	s.SymOuterK(1/float64(r), a.T())
	return &s
}

func TestGaussianLogProbMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := 7
	cov := randomCov(rng, d, 20)
	mean := make([]float64, d)
	for i := range mean {
		mean[i] = rng.NormFloat64()
	}
	g, err := NewGaussian(mean, cov)
	if err != nil {
		t.Fatal(err)
	}
	// The density written out with a general inverse and determinant.
	var inv mat.Dense
	if err := inv.Inverse(cov); err != nil {
		t.Fatal(err)
	}
	logDet, sign := mat.LogDet(cov)
	if sign <= 0 {
		t.Fatal("test covariance not positive definite")
	}
	refLogProb := func(x []float64) float64 {
		diff := mat.NewVecDense(d, nil)
		for j := range d {
			diff.SetVec(j, x[j]-mean[j])
		}
		return -0.5 * (float64(d)*math.Log(2*math.Pi) + logDet + mat.Inner(diff, &inv, diff))
	}
	n := 5
	xs := make([]float64, n*d)
	for i := range xs {
		xs[i] = 2 * rng.NormFloat64()
	}
	out := make([]float64, n)
	g.LogProb(xs, out)
	for i := range n {
		want := refLogProb(xs[i*d : (i+1)*d])
		if math.Abs(out[i]-want) > 1e-10*math.Abs(want) {
			t.Errorf("row %d: %v, want %v", i, out[i], want)
		}
	}
	if _, err := NewGaussian(mean, randomCov(rng, d, 3)); err == nil {
		t.Error("a rank-3 covariance was factored")
	}
}

func TestMomentsMeanCov(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	d, n := 4, 50
	x := make([]float32, n*d)
	labels := make([]int, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range labels {
		labels[i] = rng.IntN(3) // 2 is "unknown" for a 2-class accumulator
	}
	m := NewMoments(2, d)
	m.Add(x[:20*d], labels[:20]) // two batches give the same as one
	m.Add(x[20*d:], labels[20:])
	for c := range 2 {
		var cnt float64
		sum := make([]float64, d)
		outer := make([]float64, d*d)
		for i, l := range labels {
			if l != c {
				continue
			}
			cnt++
			for a := range d {
				sum[a] += float64(x[i*d+a])
				for b := range d {
					outer[a*d+b] += float64(x[i*d+a]) * float64(x[i*d+b])
				}
			}
		}
		mean, cov, ok := m.MeanCov(c)
		if !ok || m.Count[c] != cnt {
			t.Fatalf("class %d: count %v, want %v", c, m.Count[c], cnt)
		}
		for a := range d {
			if math.Abs(mean[a]-sum[a]/cnt) > 1e-12 {
				t.Errorf("class %d mean[%d] = %v, want %v", c, a, mean[a], sum[a]/cnt)
			}
			for b := range d {
				want := outer[a*d+b]/cnt - sum[a]*sum[b]/(cnt*cnt)
				if math.Abs(cov.At(a, b)-want) > 1e-12 {
					t.Errorf("class %d cov[%d][%d] = %v, want %v", c, a, b, cov.At(a, b), want)
				}
			}
		}
	}
}

// TestMinJitterEqualsLinearWalk compares the bisection with the
// reference's walk k, k+1, ... on singular covariances.
func TestMinJitterEqualsLinearWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 6 {
		d := 6 + trial
		cov := randomCov(rng, d, d-3)
		// Push one eigenvalue clearly negative so that k is large.
		shift := 3e-4 * float64(trial)
		for i := range d {
			cov.SetSym(i, i, cov.At(i, i)-shift/float64(d))
		}
		walk := 0
		for {
			var ch mat.Cholesky
			if ch.Factorize(addJitter(cov, walk)) {
				break
			}
			walk++
		}
		for _, from := range []int{0, walk / 2, walk, walk + 7} {
			got, err := minJitter(cov, from)
			if err != nil {
				t.Fatal(err)
			}
			if want := max(walk, from); got != want {
				t.Errorf("trial %d from %d: k = %d, want %d", trial, from, got, want)
			}
		}
	}
}

func TestFitSharedUsesOneJitterPlusTwo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	d := 5
	m := NewMoments(2, d)
	// Class 0 full rank, class 1 rank 2: the shared k comes from class 1.
	for c, rank := range []int{40, 2} {
		for range rank {
			row := make([]float32, d)
			for j := range row {
				row[j] = float32(rng.NormFloat64())
			}
			m.Add(row, []int{c})
		}
	}
	gs, k, err := FitShared(m)
	if err != nil {
		t.Fatal(err)
	}
	_, cov1, _ := m.MeanCov(1)
	k1, _ := minJitter(cov1, 0)
	if k != k1+2 || k1 == 0 {
		t.Fatalf("k = %d, want the rank-deficient class's %d + 2", k, k1)
	}
	_, cov0, _ := m.MeanCov(0)
	if got, want := gs[0].Cov.At(0, 0), cov0.At(0, 0)+float64(k)*JitterStep; math.Abs(got-want) > 1e-15 {
		t.Errorf("class 0 variance %v, want %v (jitter shared)", got, want)
	}
	empty := NewMoments(2, d)
	empty.Add(make([]float32, d), []int{0})
	if _, _, err := FitShared(empty); err == nil {
		t.Error("a class without samples was fitted")
	}
}
