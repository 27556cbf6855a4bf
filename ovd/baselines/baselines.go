package baselines

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/vmdls-go/vmdls/kernels"
	"github.com/vmdls-go/vmdls/parallel"
	"gonum.org/v1/gonum/mat"
)

// Matrix is Rows feature vectors of Cols values each, row-major in Data.
type Matrix struct {
	Rows, Cols int
	Data       []float64
}

// Row returns row i.
func (m Matrix) Row(i int) []float64 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Columns returns the columns [lo, hi) of m as a new matrix: one layer's
// slice of a feature ensemble.
func (m Matrix) Columns(lo, hi int) Matrix {
	out := Matrix{Rows: m.Rows, Cols: hi - lo, Data: make([]float64, m.Rows*(hi-lo))}
	for i := range m.Rows {
		copy(out.Row(i), m.Row(i)[lo:hi])
	}
	return out
}

func (m Matrix) check(what string) error {
	if m.Rows < 0 || m.Cols < 1 || len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("baselines: %s: %d×%d matrix with %d values", what, m.Rows, m.Cols, len(m.Data))
	}
	for i, v := range m.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("baselines: %s: value %v at row %d", what, v, i/m.Cols)
		}
	}
	return nil
}

// gaussianPart is a mean and the pseudo-inverse of a covariance: what a
// squared Mahalanobis distance needs.
type gaussianPart struct {
	mean      []float64
	precision *mat.SymDense
}

// pinvSym is scipy's pinvh: the pseudo-inverse of a symmetric matrix by its
// eigendecomposition, eigenvalues below max(n) · eps · max|λ| taken as 0
// (scikit-learn's EmpiricalCovariance keeps its precision so), so that a
// rank-deficient covariance of correlated features still has a precision.
func pinvSym(c *mat.SymDense) (*mat.SymDense, error) {
	n := c.SymmetricDim()
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
	p := mat.NewSymDense(n, nil)
	for k, v := range vals {
		if v <= tol {
			continue
		}
		col := mat.Col(nil, k, &vecs)
		p.SymRankOne(p, 1/v, mat.NewVecDense(n, col))
	}
	return p, nil
}

// sqDist returns (x - mean)ᵀ precision (x - mean).
func (g *gaussianPart) sqDist(x, scratch []float64) float64 {
	n := len(x)
	for j := range n {
		scratch[j] = x[j] - g.mean[j]
	}
	d := mat.NewVecDense(n, scratch)
	return mat.Inner(d, g.precision, d)
}

// Mahalanobis is Lee et al.'s detector on one feature layer: a mean per
// class and one covariance shared by the classes (the within-class scatter
// over all training rows), inverted as scikit-learn does.
type Mahalanobis struct {
	classes []gaussianPart // one per class, sharing the precision
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
	prec, err := pinvSym(covarianceAbout(x, func(i int) []float64 { return means[labels[i]] }))
	if err != nil {
		return nil, err
	}
	m := &Mahalanobis{}
	for _, mu := range means {
		m.classes = append(m.classes, gaussianPart{mean: mu, precision: prec})
	}
	return m, nil
}

// Distances returns each row's squared Mahalanobis distance to each class,
// a Rows × classes matrix.
func (m *Mahalanobis) Distances(x Matrix) Matrix {
	c := len(m.classes)
	out := Matrix{Rows: x.Rows, Cols: c, Data: make([]float64, x.Rows*c)}
	parallel.For(x.Rows, 16, func(lo, hi int) {
		scratch := make([]float64, x.Cols)
		for i := lo; i < hi; i++ {
			for k := range m.classes {
				out.Data[i*c+k] = m.classes[k].sqDist(x.Row(i), scratch)
			}
		}
	})
	return out
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
	background gaussianPart
}

// FitRelativeMahalanobis fits the detector on training features x.
func FitRelativeMahalanobis(x Matrix, labels []int, classes int) (*RelativeMahalanobis, error) {
	m, err := FitMahalanobis(x, labels, classes)
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
	prec, err := pinvSym(covarianceAbout(x, func(int) []float64 { return mean }))
	if err != nil {
		return nil, err
	}
	return &RelativeMahalanobis{classes: m, background: gaussianPart{mean: mean, precision: prec}}, nil
}

// Score returns -min over classes of (class distance - background
// distance), per row.
func (r *RelativeMahalanobis) Score(x Matrix) []float64 {
	d := r.classes.Distances(x)
	scratch := make([]float64, x.Cols)
	for i := range x.Rows {
		b := r.background.sqDist(x.Row(i), scratch)
		for k := range d.Cols {
			d.Data[i*d.Cols+k] -= b
		}
	}
	return negRowMin(d)
}

// KNN is Sun et al.'s detector: the distance from a feature vector, scaled
// to unit length, to its k-th nearest training vector, also scaled.
type KNN struct {
	train Matrix // unit rows
	k     int
}

// MaxK is the largest k KNN takes: the range Sun et al. sweep (1 to 50).
const MaxK = 50

// unitRows returns x with every row divided by its length (rows of length
// 0 stay 0, as scikit-learn's normalize leaves them).
func unitRows(x Matrix) Matrix {
	out := Matrix{Rows: x.Rows, Cols: x.Cols, Data: slices.Clone(x.Data)}
	for i := range out.Rows {
		r := out.Row(i)
		var s float64
		for _, v := range r {
			s += v * v
		}
		if s > 0 {
			inv := 1 / math.Sqrt(s)
			for j := range r {
				r[j] *= inv
			}
		}
	}
	return out
}

// FitKNN keeps the training features x (a subset of the training set, of
// the caller's choosing and stated size) for k-th-neighbour scoring.
func FitKNN(x Matrix, k int) (*KNN, error) {
	if err := x.check("training features"); err != nil {
		return nil, err
	}
	if k < 1 || k > MaxK || k > x.Rows {
		return nil, fmt.Errorf("baselines: KNN k %d: want 1..%d and at most the %d training rows", k, MaxK, x.Rows)
	}
	return &KNN{train: unitRows(x), k: k}, nil
}

// Score returns minus the distance to the k-th nearest training vector, per
// row, found exactly: the float32 product of the unit rows (the SGEMM)
// ranks the candidates, and every candidate whose float32 distance could
// still be within the k-th's, by the product's error bound, is measured
// again in float64.
func (n *KNN) Score(x Matrix) []float64 {
	q := unitRows(x)
	t := n.train
	d := q.Cols
	out := make([]float64, q.Rows)
	tf := toF32(t.Data)
	const block = 256
	for r0 := 0; r0 < q.Rows; r0 += block {
		rows := min(block, q.Rows-r0)
		qf := toF32(q.Data[r0*d : (r0+rows)*d])
		dots := make([]float32, rows*t.Rows)
		kernels.Sgemm(false, true, rows, t.Rows, d, 1, qf, d, tf, d, 0, dots, t.Rows)
		// |fl(x·y) - x·y| <= d·u·|x||y| (+ the rounding of the inputs to
		// float32, 2u per product), for unit x and y; twice that bounds
		// the error of 2 - 2·x·y.
		slack := 2 * (float64(d) + 4) * 0x1p-24 * 2
		parallel.For(rows, 8, func(lo, hi int) {
			cand := make([]float64, 0, 64)
			approx := make([]float64, t.Rows)
			sorted := make([]float64, t.Rows)
			for i := lo; i < hi; i++ {
				for j := range t.Rows {
					approx[j] = 2 - 2*float64(dots[i*t.Rows+j])
				}
				kth := kthSmallest(append(sorted[:0], approx...), n.k)
				cand = cand[:0]
				qi := q.Row(r0 + i)
				for j, a := range approx {
					if a <= kth+slack {
						var s float64
						for c, v := range t.Row(j) {
							diff := qi[c] - v
							s += diff * diff
						}
						cand = append(cand, s)
					}
				}
				out[r0+i] = -math.Sqrt(kthSmallest(cand, n.k))
			}
		})
	}
	return out
}

func toF32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// kthSmallest returns the k-th smallest of v (1-based), reordering v.
func kthSmallest(v []float64, k int) float64 {
	slices.Sort(v)
	return v[k-1]
}

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
