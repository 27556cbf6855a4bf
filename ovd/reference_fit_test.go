package ovd

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

// referenceFitGolden is ovd/testdata/reference_fit.json, what
// gen_reference_fit.py got from the authors' test_step and
// calculate_gaussian.
type referenceFitGolden struct {
	Classes, Dim, Scale int
	Batches             []struct {
		Labels []int
		Q      [][]float64
	}
	K           int
	Counts      []float64
	Means       [][]float64
	CovDiag     [][]float64 `json:"cov_diag"`
	CovChecksum []float64   `json:"cov_checksum"`
	QueryQ      [][]float64 `json:"query_q"`
	LogProb32   [][]float64 `json:"logprob_float32"`
	LogProb64   [][]float64 `json:"logprob_float64"`
}

func loadReferenceFitGolden(t *testing.T) *referenceFitGolden {
	t.Helper()
	b, err := os.ReadFile("testdata/reference_fit.json")
	if err != nil {
		t.Fatal(err)
	}
	var g referenceFitGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// rowsF32 turns the golden's integer rows q into the features q/scale
// (exact in float32: the generator keeps them multiples of 1/64).
func rowsF32(q [][]float64, scale int) []float32 {
	var out []float32
	for _, r := range q {
		for _, v := range r {
			out = append(out, float32(v)/float32(scale))
		}
	}
	return out
}

// covChecksum is the generator's checksum: a sequential float64 sum of the
// row-major entries weighted 1..7.
func covChecksum(cov []float64) float64 {
	s := 0.0
	for i, v := range cov {
		s += v * float64(1+i%7)
	}
	return s
}

// TestReferenceFitMatchesAuthors runs our reference fit on the batches the
// authors' test_step and calculate_gaussian ran on (reference_fit.json):
// the counts, the fitted means and the final float32 covariances match
// bit for bit (the features keep every float32 sum exact, so both sides
// build the same matrices), the jitter k matches exactly, and the
// log-densities of the query rows match the reference's.
func TestReferenceFitMatchesAuthors(t *testing.T) {
	g := loadReferenceFitGolden(t)
	s := newReferenceStats(g.Classes, g.Dim)
	for _, b := range g.Batches {
		s.add(rowsF32(b.Q, g.Scale), b.Labels)
	}
	for c := range g.Classes {
		if float64(s.count[c]) != g.Counts[c] {
			t.Fatalf("class %d: count %v, reference %v", c, s.count[c], g.Counts[c])
		}
	}
	gs, k, err := fitReferenceGaussians(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("jitter k: ours %d, reference %d", k, g.K)
	if k != g.K {
		t.Errorf("jitter k = %d, the reference's is %d", k, g.K)
	}
	d := g.Dim
	for c, gc := range gs {
		for j := range d {
			if gc.Mean[j] != g.Means[c][j] {
				t.Fatalf("class %d: mean[%d] = %v, reference %v", c, j, gc.Mean[j], g.Means[c][j])
			}
			if v := gc.Cov.At(j, j); v != g.CovDiag[c][j] {
				t.Fatalf("class %d: jittered cov[%d][%d] = %v, reference %v", c, j, j, v, g.CovDiag[c][j])
			}
		}
		if got := covChecksum(gc.Cov.RawSymmetric().Data); got != g.CovChecksum[c] {
			t.Errorf("class %d: covariance checksum %v, reference %v", c, got, g.CovChecksum[c])
		}
	}
	q := rowsF32(g.QueryQ, g.Scale)
	ll := appendLogProbs(nil, gs, q)
	u := math.Ldexp(1, -24)
	var worst64, worstAbs, worstRel, worstRatio float64
	for i := range g.QueryQ {
		for c, gc := range gs {
			got := ll[i*g.Classes+c]
			// Against the float64 log_prob of the reference's own float32
			// covariance: two float64 Cholesky factorizations of one
			// matrix whose condition number is below 1e5 agree to 1e-16·1e5
			// relative.
			rel64 := math.Abs(got-g.LogProb64[i][c]) / math.Abs(g.LogProb64[i][c])
			worst64 = max(worst64, rel64)
			if rel64 > 1e-10 {
				t.Errorf("query %d class %d: log-density %v, float64 reference %v", i, c, got, g.LogProb64[i][c])
			}
			// Against the reference's float32 log_prob: its terms, the
			// normalizer and the Mahalanobis half, are sums of d float32
			// products, each within γ_d = d·u of its exact value (u =
			// 2⁻²⁴), so the difference is bounded by d·u times the sum of
			// their magnitudes.
			maha := 2 * (gc.logNorm - got)
			tol := float64(d) * u * (math.Abs(gc.logNorm) + maha/2)
			diff := math.Abs(got - g.LogProb32[i][c])
			worstAbs, worstRel, worstRatio = max(worstAbs, diff), max(worstRel, diff/math.Abs(got)), max(worstRatio, diff/tol)
			if diff > tol {
				t.Errorf("query %d class %d: log-density %v, float32 reference %v: differ by %g > %g", i, c, got, g.LogProb32[i][c], diff, tol)
			}
		}
	}
	t.Logf("log-densities: max rel diff %.3g vs float64 reference; vs float32 reference max abs %.3g, max rel %.3g, max diff/tolerance %.3g",
		worst64, worstAbs, worstRel, worstRatio)
}

// TestReferenceWalkHandCases walks diagonal covariances whose negative
// entries need a known number of float32 steps of 1e-6: the walk starts
// each class at the running k, keeps the largest count and adds 2.
func TestReferenceWalkHandCases(t *testing.T) {
	diag := func(v ...float32) []float32 {
		m := make([]float32, len(v)*len(v))
		for i, x := range v {
			m[i*len(v)+i] = x
		}
		return m
	}
	for _, c := range []struct {
		name  string
		covs  [][]float32
		wantK int
	}{
		{"positive definite", [][]float32{diag(1, 2)}, 2},
		{"4 steps", [][]float32{diag(0, -3.5e-6)}, 6},
		{"second class within the first's k", [][]float32{diag(0, -3.5e-6), diag(-1.5e-6, 1)}, 6},
		{"second class walks on", [][]float32{diag(0, -3.5e-6), diag(-7.5e-6, 1)}, 10},
	} {
		k, err := referenceWalk(c.covs, 2)
		if err != nil || k != c.wantK {
			t.Errorf("%s: k %d, %v; want %d", c.name, k, err, c.wantK)
		}
	}
}

// TestReferenceWalkStalls gives the walk a covariance that is not
// positive definite in its leading block, whose diagonal entries (32) are
// too large for float32 additions of 1e-6 to change: the reference would
// loop forever, we fail at once, saying why.
func TestReferenceWalkStalls(t *testing.T) {
	_, err := referenceWalk([][]float32{{32, 33, 33, 32}}, 2)
	if err == nil || !strings.Contains(err.Error(), "no longer changes them") {
		t.Fatalf("err = %v, want the stalled walk named", err)
	}
}
