package baselines

import (
	"math"
	"slices"
)

// Energy returns the energy score of each row of class log-likelihoods
// (Liu et al. 2020, temperature 1): log Σ_c exp(l_c).
func Energy(logLik Matrix) []float64 {
	out := make([]float64, logLik.Rows)
	for i := range out {
		r := logLik.Row(i)
		m := slices.Max(r)
		if math.IsInf(m, -1) {
			out[i] = m
			continue
		}
		var s float64
		for _, v := range r {
			s += math.Exp(v - m)
		}
		out[i] = m + math.Log(s)
	}
	return out
}

// MaxSoftmax returns the largest softmax probability of each row of class
// log-likelihoods (Hendrycks and Gimpel 2017): exp(max_c l_c - log Σ exp).
func MaxSoftmax(logLik Matrix) []float64 {
	e := Energy(logLik)
	out := make([]float64, logLik.Rows)
	for i := range out {
		out[i] = math.Exp(slices.Max(logLik.Row(i)) - e[i])
	}
	return out
}
