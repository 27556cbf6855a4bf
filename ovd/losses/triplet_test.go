package losses

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// bruteTriplet is the specification of TripletDistancing written as the
// reference computes it: every triplet listed, in float64, each active term
// sending its gradient straight to the normalized rows, then the Jacobian
// of the normalization applied as a matrix.
func bruteTriplet(z []float32, labels []int, d int, margin, negMargin float32) (loss float64, grad []float64, stats TripletStats) {
	b := len(labels)
	xn := make([][]float64, b)
	norms := make([]float64, b)
	for i := range b {
		var s float64
		for k := range d {
			s += float64(z[i*d+k]) * float64(z[i*d+k])
		}
		norms[i] = math.Sqrt(s)
		xn[i] = make([]float64, d)
		for k := range d {
			xn[i][k] = float64(z[i*d+k]) / math.Max(norms[i], 1e-12)
		}
	}
	dist := func(i, j int) float64 {
		var s float64
		for k := range d {
			e := xn[i][k] - xn[j][k]
			s += e * e
		}
		return math.Sqrt(s)
	}
	// unit is dD(i,j)/dxn_i, zero at D = 0 as in torch.cdist.
	unit := func(i, j int) []float64 {
		u := make([]float64, d)
		if dij := dist(i, j); dij > 0 {
			for k := range d {
				u[k] = (xn[i][k] - xn[j][k]) / dij
			}
		}
		return u
	}
	gxn := make([][]float64, b)
	for i := range gxn {
		gxn[i] = make([]float64, d)
	}
	addD := func(i, j int, c float64) { // gradient c of D(i,j)
		u := unit(i, j)
		for k := range d {
			gxn[i][k] += c * u[k]
			gxn[j][k] -= c * u[k]
		}
	}
	m, nu := float64(margin), float64(negMargin)
	var sum float64
	for a := range b {
		for p := range b {
			if p == a || labels[p] != labels[a] {
				continue
			}
			for n := range b {
				if labels[n] == labels[a] {
					continue
				}
				stats.Triplets++
				ap, an := dist(a, p), dist(a, n)
				t1, t2 := math.Max(0, ap-an+m), math.Max(0, nu-an)
				if t1+t2 <= 0 {
					continue
				}
				stats.Positive++
				sum += t1 + t2
				if t1 > 0 {
					addD(a, p, 1)
					addD(a, n, -1)
				}
				if t2 > 0 {
					addD(a, n, -1)
				}
			}
		}
	}
	grad = make([]float64, b*d)
	if stats.Positive == 0 {
		return 0, grad, stats
	}
	loss = sum / float64(stats.Positive)
	for i := range b {
		// d xn_i / d z_i = (I - xn xnᵀ) / |z| above the floor, I / eps below.
		for k := range d {
			var g float64
			for l := range d {
				var jac float64
				if norms[i] >= 1e-12 {
					if k == l {
						jac = 1
					}
					jac = (jac - xn[i][k]*xn[i][l]) / norms[i]
				} else if k == l {
					jac = 1 / 1e-12
				}
				g += jac * gxn[i][l]
			}
			grad[i*d+k] = g / float64(stats.Positive)
		}
	}
	return loss, grad, stats
}

// clusteredBatch draws B rows near per-class random centers.
func clusteredBatch(rng *rand.Rand, labels []int, d int, spread, noise float64) []float32 {
	centers := map[int][]float64{}
	z := make([]float32, len(labels)*d)
	for i, y := range labels {
		c, ok := centers[y]
		if !ok {
			c = make([]float64, d)
			for k := range c {
				c[k] = spread * rng.NormFloat64()
			}
			centers[y] = c
		}
		for k := range d {
			z[i*d+k] = float32(c[k] + noise*rng.NormFloat64())
		}
	}
	return z
}

func balancedLabels(rng *rand.Rand, classes, per int) []int {
	labels := make([]int, 0, classes*per)
	for c := range classes {
		for range per {
			labels = append(labels, c)
		}
	}
	rng.Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
	return labels
}

// relNormErr is |got - want| / |want| over whole vectors (absolute when want
// is zero).
func relNormErr(got []float32, want []float64) float64 {
	var num, den float64
	for i, w := range want {
		e := float64(got[i]) - w
		num += e * e
		den += w * w
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func runTriplet(t *testing.T, z []float32, labels []int, d int, margin, negMargin float32) (float32, []float32, TripletStats) {
	t.Helper()
	zv := autograd.Param(tensor.FromSlice(append([]float32(nil), z...), len(labels), d))
	loss, stats := TripletDistancing(zv, labels, margin, negMargin)
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	if zv.Grad() == nil {
		t.Fatal("z received no gradient")
	}
	return loss.Value().Item(), zv.Grad().Data(), stats
}

type tripletCase struct {
	name      string
	z         []float32
	labels    []int
	d         int
	margin    float32
	negMargin float32
}

func bruteCases() []tripletCase {
	rng := rand.New(rand.NewPCG(1, 2))
	var cs []tripletCase
	for _, nu := range []float32{0.15, 0.8, 1.3, 2.5} {
		labels := balancedLabels(rng, 4, 6)
		cs = append(cs, tripletCase{fmt.Sprintf("balanced_nu%.2f", nu), clusteredBatch(rng, labels, 8, 1, 0.8), labels, 8, 0.1, nu})
	}
	unbal := []int{2, 0, 0, 5, 2, 2, 0, 2, 9, 0, 2, -1, 0}
	cs = append(cs, tripletCase{"unbalanced_singletons", clusteredBatch(rng, unbal, 5, 0.8, 0.8), unbal, 5, 0.1, 0.7})

	// A class of 60 (more positives than the insertion sort takes) beside
	// three small ones.
	big := make([]int, 72) // 60 of class 0, then 4 each of 1, 2, 3
	for i := 60; i < 72; i++ {
		big[i] = 1 + (i-60)/4
	}
	rng.Shuffle(len(big), func(i, j int) { big[i], big[j] = big[j], big[i] })
	cs = append(cs, tripletCase{"large_class", clusteredBatch(rng, big, 6, 1, 0.8), big, 6, 0.1, 1.1})
	// Enough anchors for the work to be split between goroutines.
	wide := balancedLabels(rng, 6, 16)
	cs = append(cs, tripletCase{"parallel_chunks", clusteredBatch(rng, wide, 12, 1, 0.9), wide, 12, 0.1, 1.25})

	// Duplicates: an exact copy inside the class, a copy in another class,
	// and a scaled copy (same direction) in another class: D = 0 in the
	// positive and the negative role.
	dup := balancedLabels(rng, 3, 6)
	z := clusteredBatch(rng, dup, 4, 1, 0.6)
	var same, other []int
	for i, y := range dup {
		if y == dup[0] {
			same = append(same, i)
		} else {
			other = append(other, i)
		}
	}
	copy(z[same[1]*4:], z[same[0]*4:same[0]*4+4])
	copy(z[other[0]*4:], z[same[2]*4:same[2]*4+4])
	for k := range 4 {
		z[other[1]*4+k] = 3 * z[same[2]*4+k]
	}
	cs = append(cs, tripletCase{"duplicates", z, dup, 4, 0.1, 0.9})

	// A zero row: its normalized vector is 0 and the eps floor scales its
	// gradient by 1e12, as in the reference.
	zr := balancedLabels(rng, 3, 4)
	zz := clusteredBatch(rng, zr, 3, 1, 0.7)
	clear(zz[5*3 : 6*3])
	cs = append(cs, tripletCase{"zero_row", zz, zr, 3, 0.1, 1.2})
	return cs
}

func TestTripletMatchesBruteForce(t *testing.T) {
	for _, c := range bruteCases() {
		t.Run(c.name, func(t *testing.T) {
			wantLoss, wantGrad, wantStats := bruteTriplet(c.z, c.labels, c.d, c.margin, c.negMargin)
			loss, grad, stats := runTriplet(t, c.z, c.labels, c.d, c.margin, c.negMargin)
			if stats != wantStats {
				t.Fatalf("stats %+v, brute force %+v", stats, wantStats)
			}
			if wantStats.Positive == 0 {
				t.Fatalf("case meant to have active triplets has none (%+v)", wantStats)
			}
			if e := math.Abs(float64(loss)-wantLoss) / wantLoss; e > 1e-6 {
				t.Errorf("loss %.9g, brute force %.9g (rel err %.2g)", loss, wantLoss, e)
			}
			if e := relNormErr(grad, wantGrad); e > 1e-6 {
				t.Errorf("gradient normwise rel err %.3g", e)
			}
		})
	}
}

// TestTripletNoPositiveLoss: tight classes far apart have triplets but no
// positive loss; the loss and the gradient are exactly zero.
func TestTripletNoPositiveLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	labels := balancedLabels(rng, 4, 5)
	d := 8
	z := make([]float32, len(labels)*d)
	for i, y := range labels {
		for k := range d {
			z[i*d+k] = float32(0.01 * rng.NormFloat64())
		}
		z[i*d+y] += 5
	}
	_, _, want := bruteTriplet(z, labels, d, 0.1, 0.15)
	loss, grad, stats := runTriplet(t, z, labels, d, 0.1, 0.15)
	if stats != want || stats.Triplets != 4*5*4*15 || stats.Positive != 0 {
		t.Fatalf("stats %+v, want %+v with %d triplets and none positive", stats, want, 4*5*4*15)
	}
	if loss != 0 {
		t.Errorf("loss %g, want 0", loss)
	}
	for i, g := range grad {
		if g != 0 {
			t.Fatalf("grad[%d] = %g, want 0", i, g)
		}
	}
}

// TestTripletOneClass: with a single class there are no negatives, hence no
// triplets; likewise when every class is a singleton.
func TestTripletOneClass(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for name, labels := range map[string][]int{
		"one_class":  {4, 4, 4, 4, 4, 4, 4},
		"singletons": {0, 1, 2, 3, 4, 5, 6},
	} {
		t.Run(name, func(t *testing.T) {
			z := clusteredBatch(rng, labels, 5, 1, 1)
			loss, grad, stats := runTriplet(t, z, labels, 5, 0.1, 2.5)
			if stats != (TripletStats{}) || loss != 0 {
				t.Fatalf("loss %g stats %+v, want 0 and no triplets", loss, stats)
			}
			for i, g := range grad {
				if g != 0 {
					t.Fatalf("grad[%d] = %g, want 0", i, g)
				}
			}
		})
	}
}

// TestTripletStatsCount checks the closed-form triplet count on a batch of
// the training shape (10 classes x 40 = 5.6 M triplets) and that the loss
// there is finite and positive with every triplet active (nu > 2).
func TestTripletStatsCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	labels := balancedLabels(rng, 10, 40)
	z := clusteredBatch(rng, labels, 32, 1, 1)
	loss, _, stats := runTriplet(t, z, labels, 32, 0.1, 2.5)
	if want := 400 * 39 * 360; stats.Triplets != want || stats.Positive != want {
		t.Fatalf("stats %+v, want %d triplets, all positive", stats, want)
	}
	if !(loss > 0.5) || math.IsInf(float64(loss), 0) {
		t.Fatalf("loss %g, want finite and > 0.5 (the second term alone is at least 0.5)", loss)
	}
}

// clearOfKinks reports whether every triplet's two relu arguments are
// farther than gap from 0, so that finite differences neither straddle a
// kink nor change which triplets count.
func clearOfKinks(z []float32, labels []int, d int, margin, negMargin float32, gap float64) bool {
	b := len(labels)
	xn, _ := normalizeRows(z, b, d)
	dist := pairDistances(xn, b, d)
	m, nu := float64(margin), float64(negMargin)
	for a := range b {
		for p := range b {
			if p == a || labels[p] != labels[a] {
				continue
			}
			for n := range b {
				if labels[n] == labels[a] {
					continue
				}
				if math.Abs(dist[a*b+p]-dist[a*b+n]+m) < gap || math.Abs(nu-dist[a*b+n]) < gap {
					return false
				}
			}
		}
	}
	return true
}

func TestTripletCheckGrad(t *testing.T) {
	for _, nu := range []float32{0.8, 2.5} {
		t.Run(fmt.Sprintf("nu%.1f", nu), func(t *testing.T) {
			const d, step = 4, 2e-3
			// The first seed whose batch sits clear of every kink (by 20
			// steps: a step moves a distance by at most ~2 step / |z|).
			var z []float32
			var labels []int
			for seed := uint64(0); ; seed++ {
				if seed == 200 {
					t.Fatal("no seed gave a batch clear of the kinks")
				}
				rng := rand.New(rand.NewPCG(seed, 99))
				labels = balancedLabels(rng, 3, 3)
				z = clusteredBatch(rng, labels, d, 1, 0.7)
				minNorm := math.Inf(1)
				_, norms := normalizeRows(z, len(labels), d)
				for _, n := range norms {
					minNorm = min(minNorm, n)
				}
				if minNorm > 0.5 && clearOfKinks(z, labels, d, 0.1, nu, 20*step/minNorm) {
					break
				}
			}
			_, _, stats := bruteTriplet(z, labels, d, 0.1, nu)
			if stats.Positive == 0 || (nu < 2 && stats.Positive == stats.Triplets) {
				t.Fatalf("batch does not exercise the loss: %+v", stats)
			}
			err := autograd.CheckGrad(func(xs []*autograd.Var) *autograd.Var {
				l, _ := TripletDistancing(xs[0], labels, 0.1, nu)
				return l
			}, []*tensor.Tensor{tensor.FromSlice(z, len(labels), d)}, autograd.CheckOptions{Step: step, RTol: 1e-2, ATol: 1e-3})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestTripletNoGradInput: a z that needs no gradient gives a plain value.
func TestTripletNoGradInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	labels := balancedLabels(rng, 3, 4)
	z := clusteredBatch(rng, labels, 6, 1, 1)
	want, _, _ := bruteTriplet(z, labels, 6, 0.1, 1.1)
	l, _ := TripletDistancing(autograd.Const(tensor.FromSlice(z, 12, 6)), labels, 0.1, 1.1)
	if l.RequiresGrad() {
		t.Fatal("loss of a constant requires grad")
	}
	if got := float64(l.Value().Item()); math.Abs(got-want) > 1e-6*want {
		t.Fatalf("loss %g, want %g", got, want)
	}
}

func TestTripletShapePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for labels of the wrong length")
		}
	}()
	TripletDistancing(autograd.Const(tensor.Zeros(4, 3)), []int{0, 1, 2}, 0.1, 0.15)
}
