package baselines

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/vmdls-go/vmdls/parallel"
	"gonum.org/v1/gonum/mat"
)

// whitener maps a feature vector x to z = W (x - center), WᵀW the
// pseudo-inverse of a covariance, so that a squared Mahalanobis distance
// is a squared Euclidean one between whitened vectors. One product of the
// query rows with Wᵀ then serves every class, where the quadratic form
// per class would cost a d×d product per class and row; and the
// differences are taken after whitening, not expanded into xᵀPx - 2mᵀPx +
// mᵀPm, whose terms cancel for the near (in-distribution) rows.
type whitener struct {
	center []float64
	w      *mat.Dense // rank × d
}

// newWhitener is scipy's pinvh by its eigendecomposition: eigenvalues
// below max(n) · eps · max|λ| are taken as 0 (scikit-learn's
// EmpiricalCovariance keeps its precision so), so that a rank-deficient
// covariance of correlated features still has a precision; W's rows are
// the kept eigenvectors over the square roots of their eigenvalues.
func newWhitener(c *mat.SymDense, center []float64) (*whitener, error) {
	n := c.SymmetricDim()
	if len(center) != n {
		return nil, fmt.Errorf("baselines: centre of %d values for a %d×%d covariance", len(center), n, n)
	}
	for _, v := range c.RawSymmetric().Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("baselines: the covariance has a non-finite entry")
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(c, true) {
		return nil, errors.New("baselines: eigendecomposition of the covariance failed")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	top := 0.0
	for _, v := range vals {
		top = math.Max(top, math.Abs(v))
	}
	tol := float64(n) * 0x1p-52 * top
	var rows []float64
	for k, v := range vals {
		if v <= tol {
			continue
		}
		s := 1 / math.Sqrt(v)
		for j := range n {
			rows = append(rows, vecs.At(j, k)*s)
		}
	}
	if len(rows) == 0 {
		// A zero covariance: every distance is 0, as pinvh's zero
		// precision gives.
		return &whitener{center: center}, nil
	}
	return &whitener{center: center, w: mat.NewDense(len(rows)/n, n, rows)}, nil
}

// rank is the number of whitened coordinates.
func (w *whitener) rank() int {
	if w.w == nil {
		return 0
	}
	r, _ := w.w.Dims()
	return r
}

// apply returns W (x_i - center) for every row of x, rows × rank.
func (w *whitener) apply(x Matrix) Matrix {
	r := w.rank()
	out := Matrix{Rows: x.Rows, Cols: r, Data: make([]float64, x.Rows*r)}
	if r == 0 || x.Rows == 0 {
		return out
	}
	const block = 256
	parallel.For((x.Rows+block-1)/block, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			r0, r1 := b*block, min((b+1)*block, x.Rows)
			c := make([]float64, (r1-r0)*x.Cols)
			for i := r0; i < r1; i++ {
				row := c[(i-r0)*x.Cols : (i-r0+1)*x.Cols]
				for j, v := range x.Row(i) {
					row[j] = v - w.center[j]
				}
			}
			dst := mat.NewDense(r1-r0, r, out.Data[r0*r:r1*r])
			dst.Mul(mat.NewDense(r1-r0, x.Cols, c), w.w.T())
		}
	})
	return out
}

// point returns W (v - center) for one vector.
func (w *whitener) point(v []float64) []float64 {
	return w.apply(Matrix{Rows: 1, Cols: len(v), Data: v}).Data
}

// sqDistances returns, for each row of the whitened z, the squared
// Euclidean distance to each of the whitened points, rows × len(points).
func sqDistances(z Matrix, points [][]float64) Matrix {
	c := len(points)
	out := Matrix{Rows: z.Rows, Cols: c, Data: make([]float64, z.Rows*c)}
	parallel.For(z.Rows, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			zi := z.Row(i)
			for k, p := range points {
				var s float64
				for j, v := range zi {
					d := v - p[j]
					s += d * d
				}
				out.Data[i*c+k] = s
			}
		}
	})
	return out
}

// Mahalanobis is Lee et al.'s detector on one feature layer: a mean per
// class and one covariance shared by the classes (the within-class scatter
// over all training rows), inverted as scikit-learn does.
type Mahalanobis struct {
	white *whitener
	means [][]float64 // whitened class means
}

// NewMahalanobis makes the detector from the class means and the tied
// covariance, however they were accumulated (ovd takes them from the
// moments its own fit pass already sums, without keeping the rows).
func NewMahalanobis(means [][]float64, cov *mat.SymDense) (*Mahalanobis, error) {
	if len(means) == 0 {
		return nil, errors.New("baselines: no class means")
	}
	d := cov.SymmetricDim()
	center := make([]float64, d)
	for c, m := range means {
		if len(m) != d {
			return nil, fmt.Errorf("baselines: class %d mean has %d values for a %d×%d covariance", c, len(m), d, d)
		}
		for j, v := range m {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("baselines: class %d mean has %v", c, v)
			}
			center[j] += v / float64(len(means))
		}
	}
	w, err := newWhitener(cov, center)
	if err != nil {
		return nil, err
	}
	out := &Mahalanobis{white: w}
	for _, m := range means {
		out.means = append(out.means, w.point(m))
	}
	return out, nil
}

// classMeans returns each class's mean of x and the count of its rows;
// every class must have a row.
func classMeans(x Matrix, labels []int, classes int) ([][]float64, error) {
	if len(labels) != x.Rows {
		return nil, fmt.Errorf("baselines: %d labels for %d rows", len(labels), x.Rows)
	}
	means := make([][]float64, classes)
	counts := make([]int, classes)
	for c := range means {
		means[c] = make([]float64, x.Cols)
	}
	for i, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("baselines: label %d at row %d outside 0..%d", l, i, classes-1)
		}
		counts[l]++
		for j, v := range x.Row(i) {
			means[l][j] += v
		}
	}
	for c, n := range counts {
		if n == 0 {
			return nil, fmt.Errorf("baselines: class %d has no training row", c)
		}
		for j := range means[c] {
			means[c][j] /= float64(n)
		}
	}
	return means, nil
}

// covarianceAbout returns (1/n) Σ (x_i - m_i)(x_i - m_i)ᵀ, m_i = center(i).
func covarianceAbout(x Matrix, center func(i int) []float64) *mat.SymDense {
	d := x.Cols
	c := mat.NewSymDense(d, nil)
	r := make([]float64, d)
	for i := range x.Rows {
		m := center(i)
		for j, v := range x.Row(i) {
			r[j] = v - m[j]
		}
		c.SymRankOne(c, 1, mat.NewVecDense(d, r))
	}
	c.ScaleSym(1/float64(x.Rows), c)
	return c
}

// FitMahalanobis fits the detector on training features x with labels in
// 0..classes-1, every class present.
func FitMahalanobis(x Matrix, labels []int, classes int) (*Mahalanobis, error) {
	if err := x.check("training features"); err != nil {
		return nil, err
	}
	means, err := classMeans(x, labels, classes)
	if err != nil {
		return nil, err
	}
	return NewMahalanobis(means, covarianceAbout(x, func(i int) []float64 { return means[labels[i]] }))
}

// Distances returns each row's squared Mahalanobis distance to each class,
// a Rows × classes matrix.
func (m *Mahalanobis) Distances(x Matrix) Matrix {
	return sqDistances(m.white.apply(x), m.means)
}

// Score returns -min over classes of the squared distance, per row: Lee et
// al.'s confidence score (without input preprocessing).
func (m *Mahalanobis) Score(x Matrix) []float64 { return negRowMin(m.Distances(x)) }

func negRowMin(d Matrix) []float64 {
	out := make([]float64, d.Rows)
	for i := range out {
		out[i] = -slices.Min(d.Row(i))
	}
	return out
}

// LayerScores fits one Mahalanobis detector per layer of a feature ensemble
// (widths: each layer's number of columns, in order) on the training
// features and returns every layer's scores of x and their sum over the
// layers, the ensemble score.
func LayerScores(train Matrix, labels []int, classes int, widths []int, x Matrix) (perLayer [][]float64, sum []float64, err error) {
	total := 0
	for _, w := range widths {
		total += w
	}
	if total != train.Cols || total != x.Cols {
		return nil, nil, fmt.Errorf("baselines: layer widths add up to %d, features have %d and %d columns", total, train.Cols, x.Cols)
	}
	sum = make([]float64, x.Rows)
	lo := 0
	for _, w := range widths {
		m, err := FitMahalanobis(train.Columns(lo, lo+w), labels, classes)
		if err != nil {
			return nil, nil, fmt.Errorf("layer of columns %d..%d: %w", lo, lo+w-1, err)
		}
		s := m.Score(x.Columns(lo, lo+w))
		for i, v := range s {
			sum[i] += v
		}
		perLayer = append(perLayer, s)
		lo += w
	}
	return perLayer, sum, nil
}

// RelativeMahalanobis is Ren et al.'s detector: the class Mahalanobis
// distances minus the distance under one background Gaussian fitted to all
// the training features (their mean and covariance).
type RelativeMahalanobis struct {
	classes    *Mahalanobis
	background *Mahalanobis
}

// NewRelativeMahalanobis makes the detector from the class means, the tied
// covariance, and the mean and covariance of all the training features.
func NewRelativeMahalanobis(means [][]float64, cov *mat.SymDense, bgMean []float64, bgCov *mat.SymDense) (*RelativeMahalanobis, error) {
	m, err := NewMahalanobis(means, cov)
	if err != nil {
		return nil, err
	}
	bg, err := NewMahalanobis([][]float64{bgMean}, bgCov)
	if err != nil {
		return nil, fmt.Errorf("background: %w", err)
	}
	return &RelativeMahalanobis{classes: m, background: bg}, nil
}

// FitRelativeMahalanobis fits the detector on training features x.
func FitRelativeMahalanobis(x Matrix, labels []int, classes int) (*RelativeMahalanobis, error) {
	if err := x.check("training features"); err != nil {
		return nil, err
	}
	means, err := classMeans(x, labels, classes)
	if err != nil {
		return nil, err
	}
	mean := make([]float64, x.Cols)
	for i := range x.Rows {
		for j, v := range x.Row(i) {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(x.Rows)
	}
	return NewRelativeMahalanobis(means, covarianceAbout(x, func(i int) []float64 { return means[labels[i]] }),
		mean, covarianceAbout(x, func(int) []float64 { return mean }))
}

// Score returns -min over classes of (class distance - background
// distance), per row.
func (r *RelativeMahalanobis) Score(x Matrix) []float64 {
	d := r.classes.Distances(x)
	b := r.background.Distances(x)
	for i := range x.Rows {
		for k := range d.Cols {
			d.Data[i*d.Cols+k] -= b.Data[i]
		}
	}
	return negRowMin(d)
}
