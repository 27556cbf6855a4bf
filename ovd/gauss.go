package ovd

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// Gaussian is a multivariate normal distribution in float64, kept as its
// mean and the upper Cholesky factor U of its covariance (S = UᵀU), so that
// log-densities of many points cost one triangular solve.
type Gaussian struct {
	Mean []float64
	// Cov is the covariance the factor was taken of (after any jitter).
	Cov     *mat.SymDense
	u       blas64.Triangular
	logNorm float64 // -(d log 2π + log det S) / 2
}

// NewGaussian factors cov; it fails when cov is not positive definite.
func NewGaussian(mean []float64, cov *mat.SymDense) (*Gaussian, error) {
	d := len(mean)
	if cov.SymmetricDim() != d {
		return nil, fmt.Errorf("ovd: Gaussian of dimension %d with a %d×%d covariance", d, cov.SymmetricDim(), cov.SymmetricDim())
	}
	var ch mat.Cholesky
	if !ch.Factorize(cov) {
		return nil, errNotPD
	}
	var u mat.TriDense
	ch.UTo(&u)
	return &Gaussian{
		Mean:    append([]float64(nil), mean...),
		Cov:     mat.NewSymDense(d, append([]float64(nil), cov.RawSymmetric().Data...)),
		u:       u.RawTriangular(),
		logNorm: -0.5 * (float64(d)*math.Log(2*math.Pi) + ch.LogDet()),
	}, nil
}

var errNotPD = fmt.Errorf("ovd: covariance is not positive definite")

// StandardGaussian is N(0, I) of dimension d, the reference's fallback for
// a class whose covariance is not positive definite.
func StandardGaussian(d int) *Gaussian {
	eye := mat.NewSymDense(d, nil)
	for i := range d {
		eye.SetSym(i, i, 1)
	}
	g, _ := NewGaussian(make([]float64, d), eye)
	return g
}

// Dim is the dimension of the distribution.
func (g *Gaussian) Dim() int { return len(g.Mean) }

// LogProb writes the log-density of each row of xs (n rows of Dim()
// values, row-major) into out[:n].
func (g *Gaussian) LogProb(xs []float64, out []float64) {
	d := g.Dim()
	n := len(xs) / d
	y := make([]float64, len(xs))
	for i := range n {
		for j := range d {
			y[i*d+j] = xs[i*d+j] - g.Mean[j]
		}
	}
	// Rows y solve yU = x - mean, so |y|² = (x-m)ᵀ S⁻¹ (x-m).
	blas64.Trsm(blas.Right, blas.NoTrans, 1, g.u, blas64.General{Rows: n, Cols: d, Stride: d, Data: y})
	for i := range n {
		row := y[i*d : (i+1)*d]
		out[i] = g.logNorm - 0.5*blas64.Dot(blas64.Vector{N: d, Inc: 1, Data: row}, blas64.Vector{N: d, Inc: 1, Data: row})
	}
}

// Moments accumulates, per class, the count, the sum and the sum of outer
// products of feature vectors in float64: everything a class mean and
// covariance need, over any number of batches.
type Moments struct {
	Dim   int
	Count []float64
	Sum   [][]float64 // [class][Dim]
	Outer [][]float64 // [class][Dim*Dim], upper triangle filled
}

// NewMoments makes empty accumulators for classes classes of dim features.
func NewMoments(classes, dim int) *Moments {
	m := &Moments{Dim: dim, Count: make([]float64, classes)}
	for range classes {
		m.Sum = append(m.Sum, make([]float64, dim))
		m.Outer = append(m.Outer, make([]float64, dim*dim))
	}
	return m
}

// Add accumulates the rows of x (n×Dim, row-major float32) whose label is
// a class of m; other labels (the unknown class) are skipped.
func (m *Moments) Add(x []float32, labels []int) {
	d := m.Dim
	byClass := map[int][]int{}
	for i, l := range labels {
		if l >= 0 && l < len(m.Count) {
			byClass[l] = append(byClass[l], i)
		}
	}
	for c, rows := range byClass {
		a := make([]float64, len(rows)*d)
		for r, i := range rows {
			for j := range d {
				a[r*d+j] = float64(x[i*d+j])
			}
		}
		for r := range rows {
			for j := range d {
				m.Sum[c][j] += a[r*d+j]
			}
		}
		blas64.Syrk(blas.Trans, 1, blas64.General{Rows: len(rows), Cols: d, Stride: d, Data: a},
			1, blas64.Symmetric{N: d, Stride: d, Uplo: blas.Upper, Data: m.Outer[c]})
		m.Count[c] += float64(len(rows))
	}
}

// MeanCov returns class c's mean and covariance E[xxᵀ] - mean meanᵀ
// (the biased estimate, as the reference computes it), symmetric by
// construction. A class with no samples gives ok = false.
func (m *Moments) MeanCov(c int) (mean []float64, cov *mat.SymDense, ok bool) {
	n := m.Count[c]
	if n == 0 {
		return nil, nil, false
	}
	d := m.Dim
	mean = make([]float64, d)
	for j := range d {
		mean[j] = m.Sum[c][j] / n
	}
	cov = mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			cov.SetSym(i, j, m.Outer[c][i*d+j]/n-mean[i]*mean[j])
		}
	}
	return mean, cov, true
}

// Reset zeroes the accumulators.
func (m *Moments) Reset() {
	for c := range m.Count {
		m.Count[c] = 0
		clear(m.Sum[c])
		clear(m.Outer[c])
	}
}

// JitterStep is the reference's covariance regularization unit: the test
// procedure adds k·1e-6·I to every class covariance.
const JitterStep = 1e-6

// FitShared fits one Gaussian per class with the test procedure's shared
// jitter (METHOD.md section 4): the smallest integer k >= 0 such that
// S_c + k·JitterStep·I has a Cholesky factor for every class, plus 2, added
// to every class. It returns the Gaussians and that final k. A class
// without samples is an error naming it.
func FitShared(m *Moments) ([]*Gaussian, int, error) {
	type meanCov struct {
		mean []float64
		cov  *mat.SymDense
	}
	classes := make([]meanCov, len(m.Count))
	k := 0
	for c := range m.Count {
		mean, cov, ok := m.MeanCov(c)
		if !ok {
			return nil, 0, fmt.Errorf("ovd: class %d has no training samples to fit its Gaussian", c)
		}
		classes[c] = meanCov{mean, cov}
		kc, err := minJitter(cov, k)
		if err != nil {
			return nil, 0, fmt.Errorf("ovd: class %d: %w", c, err)
		}
		k = max(k, kc)
	}
	k += 2
	gs := make([]*Gaussian, len(classes))
	for c, mc := range classes {
		g, err := NewGaussian(mc.mean, addJitter(mc.cov, k))
		if err != nil {
			return nil, 0, fmt.Errorf("ovd: class %d: covariance not positive definite even with jitter %d×%g", c, k, JitterStep)
		}
		gs[c] = g
	}
	return gs, k, nil
}

// addJitter returns cov + k·JitterStep·I.
func addJitter(cov *mat.SymDense, k int) *mat.SymDense {
	d := cov.SymmetricDim()
	out := mat.NewSymDense(d, append([]float64(nil), cov.RawSymmetric().Data...))
	for i := range d {
		out.SetSym(i, i, out.At(i, i)+float64(k)*JitterStep)
	}
	return out
}

// maxJitter bounds the search: beyond it the covariance is broken (NaN or
// hugely negative), not merely rank-deficient.
const maxJitter = 1 << 40

// minJitter returns the smallest integer k >= from for which cov +
// k·JitterStep·I is positive definite. Positive definiteness only improves
// as k grows, so a doubling search and a bisection find the same k as the
// reference's walk k, k+1, k+2, ... in O(log k) factorizations.
func minJitter(cov *mat.SymDense, from int) (int, error) {
	pd := func(k int) bool {
		var ch mat.Cholesky
		return ch.Factorize(addJitter(cov, k))
	}
	if pd(from) {
		return from, nil
	}
	lo, hi := from, max(2*from, 1) // pd(lo) is false
	for !pd(hi) {
		lo, hi = hi, hi*2
		if hi > maxJitter {
			return 0, fmt.Errorf("covariance not positive definite with any jitter up to %d×%g", maxJitter, JitterStep)
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if pd(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}
