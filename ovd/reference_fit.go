package ovd

import (
	"fmt"
	"math"

	"github.com/vmdls-go/vmdls/kernels"
	"gonum.org/v1/gonum/mat"
)

// The fit modes results.json reports under "fit".
const (
	fitFloat64   = "float64"   // FitShared on float64 moments of every training image
	fitReference = "reference" // --reference_fit: the reference's test-time fit
)

// referenceStats holds pass 1's feature-ensemble statistics as the
// reference's test_step (models/vae.py) keeps them, in float32: per class,
// the count adds up over every batch (class_counts[i] += count) while the
// sum and XᵀX are overwritten by each batch that holds the class
// (early_temp_means[i] = ..., early_temp_cov[i] = ...), so only the last
// such batch's survive.
type referenceStats struct {
	dim   int
	count []float32
	sum   [][]float32 // [class][dim]
	outer [][]float32 // [class][dim*dim], full square
}

func newReferenceStats(classes, dim int) *referenceStats {
	s := &referenceStats{dim: dim, count: make([]float32, classes)}
	for range classes {
		s.sum = append(s.sum, make([]float32, dim))
		s.outer = append(s.outer, make([]float32, dim*dim))
	}
	return s
}

// add is test_step's update for one batch of rows x (n×dim, row-major)
// with their labels; labels outside the known classes are skipped.
func (s *referenceStats) add(x []float32, labels []int) {
	d := s.dim
	rows := map[int][]int{}
	for i, l := range labels {
		if l >= 0 && l < len(s.count) {
			rows[l] = append(rows[l], i)
		}
	}
	for c, idx := range rows {
		a := make([]float32, len(idx)*d)
		for r, i := range idx {
			copy(a[r*d:(r+1)*d], x[i*d:(i+1)*d])
		}
		// torch's float32 sum is a cascade sum, whose error stays near the
		// correctly rounded sum's (3 ulps over 4996 rows of one sign), while
		// a running float32 sum's grows with the rows; a float64 sum rounded
		// once is the closer stand-in, and the mean's rounding is what the
		// cancellation in the covariance magnifies. XᵀX is a float32 GEMM
		// on both sides.
		sum := s.sum[c]
		acc := make([]float64, d)
		for r := range idx {
			for j, v := range a[r*d : (r+1)*d] {
				acc[j] += float64(v)
			}
		}
		for j := range sum {
			sum[j] = float32(acc[j])
		}
		kernels.Sgemm(true, false, d, d, len(idx), 1, a, d, a, d, 0, s.outer[c], d)
		s.count[c] += float32(len(idx))
	}
}

// meanCov is calculate_gaussian's class statistics in float32: mean =
// last sum / total count (so a class fitted in several batches gets a
// shrunken mean), cov = XᵀX / count - mean·meanᵀ, then (cov + covᵀ)/2.
// Each value is rounded as the reference's elementwise float32 tensor ops
// round it; the explicit float32 conversions keep the compiler from fusing
// a product into a subtraction.
func (s *referenceStats) meanCov(c int) (mean, cov []float32, ok bool) {
	n := s.count[c]
	if n == 0 {
		return nil, nil, false
	}
	d := s.dim
	mean = make([]float32, d)
	for j, v := range s.sum[c] {
		mean[j] = v / n
	}
	cov = make([]float32, d*d)
	for i := range d {
		for j := range d {
			cov[i*d+j] = float32(s.outer[c][i*d+j]/n) - float32(mean[i]*mean[j])
		}
	}
	for i := range d {
		for j := i + 1; j < d; j++ {
			v := float32(cov[i*d+j]+cov[j*d+i]) / 2
			cov[i*d+j], cov[j*d+i] = v, v
		}
	}
	return mean, cov, true
}

// referenceStep is float32(1e-6), the jitter step as the reference's
// float32 tensors hold it (torch.eye(d) * 0.000001).
const referenceStep = float32(JitterStep)

// maxReferenceWalk bounds the walk: the reference would loop forever on a
// covariance no jitter repairs; this many steps of 1e-6 is far beyond any
// rank deficiency of finite features.
const maxReferenceWalk = 1 << 22

// referenceWalk is calculate_gaussian's jitter walk over the classes'
// float32 covariances (d×d each) and returns its final k ("Increases").
// Class by class, starting from the running k, a copy of the covariance
// gets eye·1e-6·k added, then 1e-6 on the diagonal at a time (repeated
// float32 additions, as cov_copy += eye·1e-6) until a float32 Cholesky
// (kernels.Spotrf, for MultivariateNormal's torch.linalg.cholesky)
// accepts it; k becomes the largest count reached. The final k is that
// plus 2. Every step is a factorization: no bisection, because the walk's
// verdicts are those of float32 factorizations of repeatedly rounded
// matrices, for which positive definiteness need not be monotone in k.
func referenceWalk(covs [][]float32, d int) (int, error) {
	k := 0
	work, scratch := make([]float32, d*d), make([]float32, d*d)
	for c, cov := range covs {
		for _, v := range cov {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, fmt.Errorf("ovd: class %d: covariance has a non-finite entry", c)
			}
		}
		copy(work, cov)
		start := referenceStep * float32(k)
		for i := range d {
			work[i*d+i] += start
		}
		kc := k
		// Spotrf factors in place; the walk goes on adding to work.
		for copy(scratch, work); ; copy(scratch, work) {
			info := kernels.SpotrfInfo(d, scratch, d)
			if info == 0 {
				break
			}
			if stalled(work, d, info) {
				return 0, fmt.Errorf("ovd: class %d: covariance not positive definite in float32 with jitter %d×%g, and the walk cannot go on: "+
					"the leading %d diagonal entries are so large that adding %g in float32 no longer changes them (the reference's walk would not end either)",
					c, kc, JitterStep, info, JitterStep)
			}
			for i := range d {
				work[i*d+i] += referenceStep
			}
			if kc++; kc > maxReferenceWalk {
				return 0, fmt.Errorf("ovd: class %d: covariance not positive definite in float32 with any jitter up to %d×%g", c, maxReferenceWalk, JitterStep)
			}
		}
		k = max(k, kc)
	}
	return k + 2, nil
}

// stalled reports whether adding referenceStep in float32 leaves each of
// the first p diagonal entries of m (d×d) unchanged: then the leading p×p
// block, on which alone a failure at pivot p-1 depends, never changes
// again, so no further step of the walk can succeed.
func stalled(m []float32, d, p int) bool {
	for i := range p {
		if v := m[i*d+i]; float32(v+referenceStep) != v {
			return false
		}
	}
	return true
}

// fitReferenceGaussians is calculate_gaussian for the feature ensemble:
// float32 means and covariances (meanCov), the float32 jitter walk, then
// every class's covariance plus eye·1e-6·k in float32. The Gaussians are
// float64 ones of those float32 values, so that their log-densities are
// the reference's float32 log_prob up to its float32 rounding. A class
// without samples is an error naming it.
func fitReferenceGaussians(s *referenceStats) ([]*Gaussian, int, error) {
	d := s.dim
	means := make([][]float32, len(s.count))
	covs := make([][]float32, len(s.count))
	for c := range s.count {
		m, cov, ok := s.meanCov(c)
		if !ok {
			return nil, 0, fmt.Errorf("ovd: class %d has no training samples to fit its Gaussian", c)
		}
		means[c], covs[c] = m, cov
	}
	k, err := referenceWalk(covs, d)
	if err != nil {
		return nil, 0, err
	}
	jitter := referenceStep * float32(k)
	gs := make([]*Gaussian, len(covs))
	for c, cov := range covs {
		for i := range d {
			cov[i*d+i] += jitter
		}
		g, err := NewGaussian(float64s(means[c]), mat.NewSymDense(d, float64s(cov)))
		if err != nil {
			return nil, 0, fmt.Errorf("ovd: class %d: covariance not positive definite even with jitter %d×%g", c, k, JitterStep)
		}
		gs[c] = g
	}
	return gs, k, nil
}

func float64s(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
