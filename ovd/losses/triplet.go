package losses

import (
	"fmt"
	"math"
	"slices"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/parallel"
	"github.com/vmdls-go/vmdls/tensor"
)

// normEps is the floor of the row norm in the normalization, the default
// eps of torch.nn.functional.normalize that pytorch-metric-learning's
// LpDistance uses.
const normEps = 1e-12

// TripletStats describes the triplets of one batch.
type TripletStats struct {
	// Triplets counts every (a, p, n) with a != p, y_a == y_p and
	// y_n != y_a, the triplets the reference's "all" selection yields.
	Triplets int
	// Positive counts those whose loss l is > 0: the divisor of the batch
	// loss (pytorch-metric-learning's AvgNonZeroReducer).
	Positive int
}

// TripletDistancing is the reference's TripletMarginLossModded with the
// defaults it runs with (all triplets, LpDistance on L2-normalized rows,
// AvgNonZeroReducer). With D the Euclidean distances of the rows of z
// (shape [B, d]) after dividing each by max(|z_i|, 1e-12), every triplet
// (a, p, n) with a != p, labels[a] == labels[p], labels[n] != labels[a]
// has the loss
//
//	l = relu(D[a][p] - D[a][n] + margin) + relu(negMargin - D[a][n])
//
// and the result is the mean of l over the triplets with l > 0, or 0 when
// there are none (then the gradient is zero, as in the reference).
//
// The triplets are never listed. Per anchor the positive distances are
// sorted once; a negative's first term is then active for a suffix of
// them, found by binary search, whose length and sum give both the loss and
// dL/dD in O(B² log B) rather than the O(B³) of a triplet loop. The second
// term depends on (a, n) only and counts once per positive. The gradient of
// a distance is taken as zero where D = 0 (duplicate points), as torch.cdist
// does. Distances and sums are computed in float64 from the float32 input,
// from the differences of the rows: the reference's torch.cdist on float32
// batches over 25 rows goes through the Gram matrix instead, which is off
// by up to about 7e-4 in D at B = 400 (a rounding difference, not a
// different loss).
func TripletDistancing(z *autograd.Var, labels []int, margin, negMargin float32) (*autograd.Var, TripletStats) {
	shape := z.Shape()
	if len(shape) != 2 || shape[0] != len(labels) {
		panic(&tensor.ShapeError{Op: "losses.TripletDistancing", Shapes: [][]int{shape},
			Detail: fmt.Sprintf("want z of shape [B, d] with B = len(labels) = %d", len(labels))})
	}
	b, d := shape[0], shape[1]
	dev := z.Value().Device()
	xn, norms := normalizeRows(hostData(z.Value()), b, d)
	dist := pairDistances(xn, b, d)

	groups := map[int][]int{}
	for i, y := range labels {
		groups[y] = append(groups[y], i)
	}
	var stats TripletStats
	maxGroup := 0
	for _, g := range groups {
		stats.Triplets += len(g) * (len(g) - 1) * (b - len(g))
		maxGroup = max(maxGroup, len(g))
	}

	// coef[a*b+j] is dS/dD[a][j] for the sum S of the active losses: an
	// integer count (positives +, negatives -), exact in int32.
	coef := make([]int32, b*b)
	sums := make([]float64, b)
	counts := make([]int, b)
	m, nu := float64(margin), float64(negMargin)
	parallel.For(b, 32, func(lo, hi int) {
		sc := newAnchorScratch(maxGroup)
		for a := lo; a < hi; a++ {
			sums[a], counts[a] = anchorLoss(a, labels, groups[labels[a]], dist[a*b:(a+1)*b], coef[a*b:(a+1)*b], m, nu, sc)
		}
	})
	var total float64
	for a := range b {
		total += sums[a]
		stats.Positive += counts[a]
	}
	var value float64
	if stats.Positive > 0 {
		value = total / float64(stats.Positive)
	}
	out := tensor.Scalar(float32(value))
	if dev != tensor.CPU {
		out = out.To(dev)
	}
	positive := stats.Positive
	return autograd.Custom("TripletDistancing", out, func(g *tensor.Tensor) []*tensor.Tensor {
		grad := tensor.Zeros(b, d)
		if positive > 0 {
			scale := float64(g.Item()) / float64(positive)
			tripletBackward(grad.Data(), xn, norms, dist, coef, b, d, scale)
		}
		if dev != tensor.CPU {
			grad = grad.To(dev)
		}
		return []*tensor.Tensor{grad}
	}, z), stats
}

// posDist is a positive of the current anchor: its distance and index.
type posDist struct {
	d float64
	j int
}

// insertionMax is the largest positive count sorted by insertion; above it
// the O(n log n) sort wins.
const insertionMax = 48

// anchorScratch is one worker's memory for anchorLoss, sized for the
// largest class.
type anchorScratch struct {
	pos []posDist
	// dists holds the sorted positive distances padded with +Inf to a
	// power of two, so the search needs neither bounds nor branches.
	dists  []float64
	suffix []float64
	hist   []int32
}

func newAnchorScratch(maxGroup int) *anchorScratch {
	pow := 1
	for pow < maxGroup {
		pow *= 2
	}
	return &anchorScratch{
		pos:    make([]posDist, 0, maxGroup),
		dists:  make([]float64, pow),
		suffix: make([]float64, maxGroup+1),
		hist:   make([]int32, maxGroup+1),
	}
}

// anchorLoss sums the losses of the triplets anchored at a and fills row a
// of the dS/dD counts (row = D[a][.], crow = coef[a][.]); it returns the sum
// and the number of triplets with l > 0. group lists the members of a's
// class.
func anchorLoss(a int, labels, group []int, row []float64, crow []int32, m, nu float64, sc *anchorScratch) (float64, int) {
	np := len(group) - 1
	if np == 0 || len(group) == len(labels) {
		return 0, 0
	}
	pos := sc.pos[:0]
	for _, j := range group {
		if j != a {
			pos = append(pos, posDist{row[j], j})
		}
	}
	if np <= insertionMax {
		for i := 1; i < np; i++ {
			x := pos[i]
			k := i
			for ; k > 0 && pos[k-1].d > x.d; k-- {
				pos[k] = pos[k-1]
			}
			pos[k] = x
		}
	} else {
		slices.SortFunc(pos, func(x, y posDist) int {
			switch {
			case x.d < y.d:
				return -1
			case x.d > y.d:
				return 1
			}
			return 0
		})
	}
	pow := 1
	for pow < np {
		pow *= 2
	}
	dists := sc.dists[:pow]
	suffix, hist := sc.suffix[:np+1], sc.hist[:np+1]
	suffix[np] = 0
	for k := np - 1; k >= 0; k-- {
		dists[k] = pos[k].d
		suffix[k] = suffix[k+1] + pos[k].d
	}
	for k := np; k < pow; k++ {
		dists[k] = math.Inf(1)
	}
	clear(hist)
	ya := labels[a]
	var sum float64
	count := 0
	for n, yn := range labels {
		if yn == ya {
			continue
		}
		dan := row[n]
		// The first term of (a, p, n) is active iff D[a][p] > t; lo is
		// the number of positives at or below t (the +Inf padding never
		// counts), found with a conditional move per halving.
		t := dan - m
		lo := 0
		for step := pow >> 1; step > 0; step >>= 1 {
			if dists[lo+step-1] <= t {
				lo += step
			}
		}
		if dists[lo] <= t {
			lo++
		}
		k := np - lo
		hist[lo]++
		c := int32(-k)
		if k > 0 {
			sum += suffix[lo] - float64(k)*t
		}
		if nu-dan > 0 {
			sum += float64(np) * (nu - dan)
			c -= int32(np)
			count += np
		} else {
			count += k
		}
		crow[n] = c
	}
	// The positive of rank r is active with every negative whose first
	// active rank is <= r.
	var cum int32
	for r := range np {
		cum += hist[r]
		crow[pos[r].j] = cum
	}
	return sum, count
}

// tripletBackward writes into grad (B x d) the gradient scale * dS/dz, with
// coef holding dS/dD: through D[a][j] = |xn_a - xn_j| (zero where D = 0)
// and then through xn = z / max(|z|, eps).
func tripletBackward(grad []float32, xn, norms, dist []float64, coef []int32, b, d int, scale float64) {
	parallel.For(b, 32, func(lo, hi int) {
		gx := make([]float64, d)
		for a := lo; a < hi; a++ {
			clear(gx)
			xa := xn[a*d : (a+1)*d]
			var self float64
			for j := range b {
				c := coef[a*b+j] + coef[j*b+a]
				dij := dist[a*b+j]
				if c == 0 || dij == 0 {
					continue
				}
				w := float64(c) / dij
				self += w
				xj := xn[j*d : (j+1)*d]
				xj = xj[:len(gx)] // drops the bounds checks below
				for k := range gx {
					gx[k] -= w * xj[k]
				}
			}
			var dot float64
			for k := range gx {
				gx[k] += self * xa[k]
				dot += gx[k] * xa[k]
			}
			ga := grad[a*d : (a+1)*d]
			if norms[a] >= normEps {
				s := scale / norms[a]
				for k := range ga {
					ga[k] = float32(s * (gx[k] - dot*xa[k]))
				}
			} else {
				// Below the floor the divisor is the constant eps.
				s := scale / normEps
				for k := range ga {
					ga[k] = float32(s * gx[k])
				}
			}
		}
	})
}

// normalizeRows returns the rows of x (B x d) divided by max(|row|, eps), in
// float64, and the row norms.
func normalizeRows(x []float32, b, d int) (xn, norms []float64) {
	xn = make([]float64, b*d)
	norms = make([]float64, b)
	for i := range b {
		row := x[i*d : (i+1)*d]
		var s float64
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		n := math.Sqrt(s)
		norms[i] = n
		inv := 1 / max(n, normEps)
		for k, v := range row {
			xn[i*d+k] = float64(v) * inv
		}
	}
	return xn, norms
}

// pairDistances returns the symmetric B x B matrix of Euclidean distances
// of the rows of xn, from the differences themselves (not the Gram matrix,
// whose cancellation blurs small distances and loses D = 0 exactly). Rows
// are handed out in pairs (i, B-1-i) so every task has the same share of
// the upper triangle.
func pairDistances(xn []float64, b, d int) []float64 {
	dist := make([]float64, b*b)
	half := (b + 1) / 2
	parallel.For(half, 16, func(lo, hi int) {
		for q := lo; q < hi; q++ {
			distRow(dist, xn, q, b, d)
			if r := b - 1 - q; r != q {
				distRow(dist, xn, r, b, d)
			}
		}
	})
	return dist
}

// distRow fills D[i][j] and D[j][i] for every j > i.
func distRow(dist, xn []float64, i, b, d int) {
	xi := xn[i*d : (i+1)*d]
	for j := i + 1; j < b; j++ {
		xj := xn[j*d : (j+1)*d]
		var s0, s1 float64
		k := 0
		for ; k+1 < d; k += 2 {
			e0 := xi[k] - xj[k]
			e1 := xi[k+1] - xj[k+1]
			s0 += e0 * e0
			s1 += e1 * e1
		}
		if k < d {
			e := xi[k] - xj[k]
			s0 += e * e
		}
		v := math.Sqrt(s0 + s1)
		dist[i*b+j] = v
		dist[j*b+i] = v
	}
}

// hostData returns t's values on the host: its storage on the CPU, a copy
// otherwise.
func hostData(t *tensor.Tensor) []float32 {
	if t.Device() != tensor.CPU {
		t = t.To(tensor.CPU)
	}
	return t.Data()
}
