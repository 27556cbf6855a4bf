package baselines

import (
	"fmt"
	"math"
	"slices"

	"github.com/vmdls-go/vmdls/kernels"
	"github.com/vmdls-go/vmdls/parallel"
)

// KNN is Sun et al.'s detector: the distance from a feature vector, scaled
// to unit length, to its k-th nearest training vector, also scaled.
type KNN struct {
	train Matrix // unit rows
	// center is the mean of the unit rows, and trainF the unit rows minus
	// it in float32, the SGEMM's operand; sqNorm are their squared
	// lengths (float64) and maxNorm the largest length. Trained features
	// share a large common direction (unit MNIST h vectors are 1e-4 apart
	// in squared distance), so 2 - 2·x·y in float32 cancels to noise and
	// every row becomes a candidate; centred, the products are of the
	// size of the distances and the error bound shrinks with them.
	center  []float64
	trainF  []float32
	sqNorm  []float64
	maxNorm float64
	k       int
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
	u := unitRows(x)
	n := &KNN{train: u, k: k, center: make([]float64, u.Cols), sqNorm: make([]float64, u.Rows)}
	for i := range u.Rows {
		for j, v := range u.Row(i) {
			n.center[j] += v / float64(u.Rows)
		}
	}
	c := n.centred(u)
	for i := range c.Rows {
		for _, v := range c.Row(i) {
			n.sqNorm[i] += v * v
		}
		n.maxNorm = math.Max(n.maxNorm, math.Sqrt(n.sqNorm[i]))
	}
	n.trainF = toF32(c.Data)
	return n, nil
}

// centred returns the rows of u minus the training rows' centre.
func (n *KNN) centred(u Matrix) Matrix {
	out := Matrix{Rows: u.Rows, Cols: u.Cols, Data: slices.Clone(u.Data)}
	for i := range out.Rows {
		r := out.Row(i)
		for j := range r {
			r[j] -= n.center[j]
		}
	}
	return out
}

// Score returns minus the distance to the k-th nearest training vector, per
// row, found exactly: the float32 product of the centred unit rows (the
// SGEMM) ranks the candidates, and every candidate whose approximate
// distance could still be within the k-th's, by the product's error bound,
// is measured again in float64 from the unit rows themselves.
func (n *KNN) Score(x Matrix) []float64 {
	q := unitRows(x)
	qc := n.centred(q)
	t := n.train
	d := q.Cols
	out := make([]float64, q.Rows)
	tf := n.trainF
	const block = 256
	for r0 := 0; r0 < q.Rows; r0 += block {
		rows := min(block, q.Rows-r0)
		qf := toF32(qc.Data[r0*d : (r0+rows)*d])
		dots := make([]float32, rows*t.Rows)
		kernels.Sgemm(false, true, rows, t.Rows, d, 1, qf, d, tf, d, 0, dots, t.Rows)
		parallel.For(rows, 8, func(lo, hi int) {
			cand := make([]float64, 0, 64)
			approx := make([]float64, t.Rows)
			sorted := make([]float64, t.Rows)
			for i := lo; i < hi; i++ {
				qi, qci := q.Row(r0+i), qc.Row(r0+i)
				var qn float64
				for _, v := range qci {
					qn += v * v
				}
				// |fl(a·b) - a·b| <= (d+4)·u·|a||b| for the float32 product
				// of the rounded a and b (the rounding of the inputs and d
				// additions), so each approximate distance |a|²+|b|²-2a·b
				// is within e = 2(d+4)·u·|a|·max|b| of the true one, and a
				// row can be among the k nearest only within 2e of the
				// k-th approximate distance. The float64 norms' own
				// rounding is far inside the 4 of d+4.
				e := 2 * (float64(d) + 4) * 0x1p-24 * math.Sqrt(qn) * n.maxNorm
				for j := range t.Rows {
					approx[j] = qn + n.sqNorm[j] - 2*float64(dots[i*t.Rows+j])
				}
				kth := kthSmallest(append(sorted[:0], approx...), n.k)
				cand = cand[:0]
				for j, a := range approx {
					if a <= kth+2*e {
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

// kthSmallest returns the k-th smallest of v (1-based), reordering v. It
// keeps the k smallest so far in a max-heap at the front of v: n log k
// comparisons, where sorting every row's tens of thousands of training
// distances cost more than the product that measured them.
func kthSmallest(v []float64, k int) float64 {
	h := v[:k]
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	for _, x := range v[k:] {
		if x < h[0] {
			h[0] = x
			siftDown(h, 0)
		}
	}
	return h[0]
}

// siftDown restores the max-heap order of h below node i.
func siftDown(h []float64, i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c+1] > h[c] {
			c++
		}
		if h[i] >= h[c] {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
