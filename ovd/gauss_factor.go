package ovd

import (
	"math"

	"gonum.org/v1/gonum/blas"
)

// factor returns a copy of g's upper Cholesky factor U (S = UᵀU) as d×d
// row-major values, zeros below the diagonal: what a detector file stores
// of a class Gaussian beside its mean.
func (g *Gaussian) factor() []float64 {
	d := g.Dim()
	out := make([]float64, d*d)
	for i := range d {
		copy(out[i*d+i:(i+1)*d], g.u.Data[i*g.u.Stride+i:i*g.u.Stride+d])
	}
	return out
}

// gaussianFromFactor rebuilds a Gaussian from its mean and upper Cholesky
// factor u (d×d row-major, as factor gives it; the lower triangle is not
// read) without factorizing again: its log-densities are then those of the
// Gaussian the factor came from, bit for bit, because the normalizer is
// computed as NewGaussian computes it (gonum's Cholesky.LogDet sums
// 2·log U_ii in the same order). The covariance is not rebuilt (Cov is
// nil): scoring needs only the factor, and UᵀU would cost d³ per class when
// a detector file is opened. The caller checks that u's diagonal is
// positive and every value finite.
func gaussianFromFactor(mean, u []float64) *Gaussian {
	d := len(mean)
	g := &Gaussian{Mean: append([]float64(nil), mean...)}
	g.u.N, g.u.Stride = d, d
	g.u.Uplo, g.u.Diag = blas.Upper, blas.NonUnit
	g.u.Data = make([]float64, d*d)
	for i := range d {
		copy(g.u.Data[i*d+i:(i+1)*d], u[i*d+i:(i+1)*d])
	}
	var det float64
	for i := range d {
		det += 2 * math.Log(g.u.Data[i*d+i])
	}
	g.logNorm = -0.5 * (float64(d)*math.Log(2*math.Pi) + det)
	return g
}
