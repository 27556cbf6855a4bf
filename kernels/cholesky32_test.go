package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// spdMatrix returns B·Bᵀ/r + shift·I for a random n×r B, in float32 (the
// product taken in float64, then rounded), full square storage.
func spdMatrix(rng *rand.Rand, n, r int, shift float64) []float32 {
	b := make([]float64, n*r)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	a := make([]float32, n*n)
	for i := range n {
		for j := range n {
			s := 0.0
			for k := range r {
				s += b[i*r+k] * b[j*r+k]
			}
			s /= float64(r)
			if i == j {
				s += shift
			}
			a[i*n+j] = float32(s)
		}
	}
	return a
}

// reconstructionError is max |(L·Lᵀ - A)_ij| / max |A_ij| over the lower
// triangle, in float64.
func reconstructionError(n int, a, l []float32) float64 {
	worst, scale := 0.0, 0.0
	for i := range n {
		for j := 0; j <= i; j++ {
			s := 0.0
			for k := 0; k <= j; k++ {
				s += float64(l[i*n+k]) * float64(l[j*n+k])
			}
			worst = max(worst, math.Abs(s-float64(a[i*n+j])))
			scale = max(scale, math.Abs(float64(a[i*n+j])))
		}
	}
	return worst / scale
}

// TestSpotrfMatchesUnblocked factors well-conditioned SPD matrices of sizes
// around and across the panel width with both algorithms: the factors
// agree to float32 rounding and reproduce A. The bound is the standard
// Cholesky backward error, n·u·|L||Lᵀ| (u = 2⁻²⁴), with |L||Lᵀ| <= max|A|
// here since A's diagonal dominates.
func TestSpotrfMatchesUnblocked(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	u := math.Ldexp(1, -24)
	for _, n := range []int{1, 2, 7, 63, 64, 65, 129, 200} {
		a := spdMatrix(rng, n, n+3, 1)
		blocked, plain := append([]float32(nil), a...), append([]float32(nil), a...)
		if !Spotrf(n, blocked, n) || !SpotrfUnblocked(n, plain, n) {
			t.Fatalf("n=%d: a positive definite matrix was refused", n)
		}
		bound := float64(n) * u * 4
		if e := reconstructionError(n, a, blocked); e > bound {
			t.Errorf("n=%d: blocked |LLᵀ-A|/|A| = %g > %g", n, e, bound)
		}
		if e := reconstructionError(n, a, plain); e > bound {
			t.Errorf("n=%d: unblocked |LLᵀ-A|/|A| = %g > %g", n, e, bound)
		}
		worst := 0.0
		for i := range n {
			for j := 0; j <= i; j++ {
				worst = max(worst, math.Abs(float64(blocked[i*n+j]-plain[i*n+j])))
			}
		}
		// Both factors are within the backward error of the same A and
		// its condition number here is below 10, so they agree entrywise
		// to a few times that error.
		if worst > 10*bound*math.Sqrt(float64(n)) {
			t.Errorf("n=%d: blocked and unblocked factors differ by %g", n, worst)
		}
	}
}

// TestSpotrfRefusesIndefinite gives both algorithms matrices whose
// smallest eigenvalue is clearly negative (a rank-deficient Gram matrix
// less 1e-3·I, far beyond float32 rounding) and a NaN: every one is
// refused, as spotrf's info > 0.
func TestSpotrfRefusesIndefinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{3, 64, 150} {
		a := spdMatrix(rng, n, n/3+1, -1e-3)
		for name, f := range map[string]func(int, []float32, int) bool{"blocked": Spotrf, "unblocked": SpotrfUnblocked} {
			if f(n, append([]float32(nil), a...), n) {
				t.Errorf("%s n=%d: an indefinite matrix was factored", name, n)
			}
		}
		b := spdMatrix(rng, n, n+1, 1)
		b[(n-1)*n+n-2] = float32(math.NaN())
		for name, f := range map[string]func(int, []float32, int) bool{"blocked": Spotrf, "unblocked": SpotrfUnblocked} {
			if f(n, append([]float32(nil), b...), n) {
				t.Errorf("%s n=%d: a matrix with a NaN was factored", name, n)
			}
		}
	}
}

// TestSpotrfIgnoresUpperAndStride fills the strict upper triangle and
// the padding of a strided matrix with NaN: the factor is the one of the
// plain square matrix, bit for bit.
func TestSpotrfIgnoresUpperAndStride(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n, lda := 150, 161
	a := spdMatrix(rng, n, n, 0.5)
	want := append([]float32(nil), a...)
	if !Spotrf(n, want, n) {
		t.Fatal("refused a positive definite matrix")
	}
	s := make([]float32, (n-1)*lda+n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	for i := range n {
		for j := 0; j <= i; j++ {
			s[i*lda+j] = a[i*n+j]
		}
	}
	if !Spotrf(n, s, lda) {
		t.Fatal("strided: refused a positive definite matrix")
	}
	for i := range n {
		for j := 0; j <= i; j++ {
			if math.Float32bits(s[i*lda+j]) != math.Float32bits(want[i*n+j]) {
				t.Fatalf("L[%d][%d] = %v strided, %v square", i, j, s[i*lda+j], want[i*n+j])
			}
		}
	}
}

// TestSpotrfInfoNamesTheColumn puts the only bad pivot at column j of an
// otherwise positive definite matrix, on both sides of panel edges:
// SpotrfInfo reports j+1, as spotrf's info.
func TestSpotrfInfoNamesTheColumn(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := 150
	for _, j := range []int{0, 1, 63, 64, 65, 127, 149} {
		a := spdMatrix(rng, n, n, 1)
		// A row and column of zeros but a diagonal of -1 leave the
		// leading j×j block positive definite and make pivot j -1.
		for k := range n {
			a[j*n+k], a[k*n+j] = 0, 0
		}
		a[j*n+j] = -1
		if got := SpotrfInfo(n, a, n); got != j+1 {
			t.Errorf("bad pivot at column %d: info %d, want %d", j, got, j+1)
		}
	}
}
