package nets

import (
	"fmt"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// Margin is the triplet margin of the stand-in loss (nets.py's 0.1).
const Margin = 0.1

// BalancedLabels returns nets.py's labels for a batch of size batch over
// ncls classes: arange(ncls).repeat_interleave(batch/ncls), i.e. batch/ncls
// copies of class 0, then of class 1, ... batch must be a positive multiple
// of ncls.
func BalancedLabels(batch, ncls int) ([]int, error) {
	if ncls < 1 || batch < ncls || batch%ncls != 0 {
		return nil, fmt.Errorf("batch size %d is not a positive multiple of the %d classes", batch, ncls)
	}
	per := batch / ncls
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = i / per
	}
	return labels, nil
}

// TripletKLLoss is nets.py's triplet_kl_loss, the stand-in for the VMDLS
// loss that exercises the same kind of work (all-pairs distances, every
// valid triplet, per-class means):
//
//	D[i][j]  = sqrt(|z_i - z_j|² + 1e-12)
//	trip     = sum over valid triplets (a,p,n) of relu(D[a][p] - D[a][n] + 0.1)
//	           / number of valid triplets   (a != p, y_a == y_p, y_n != y_a)
//	kl       = mean over i, k of (z_ik - mean_{j: y_j = y_i} z_jk)²
//	loss     = trip + kl
//
// z is [B, D]; labels holds B values in [0, ncls), each class present.
// Unlike the VMDLS loss it does not normalize z and averages over all valid
// triplets, not only the active ones: it is a benchmark load, not the method.
func TripletKLLoss(z *autograd.Var, labels []int, ncls int) *autograd.Var {
	sh := z.Shape()
	if len(sh) != 2 || sh[0] != len(labels) {
		panic(&tensor.ShapeError{Op: "nets.TripletKLLoss", Shapes: [][]int{sh},
			Detail: fmt.Sprintf("z must be [B, D] with B = %d labels", len(labels))})
	}
	b, dim := sh[0], sh[1]
	counts := make([]float32, ncls)
	for i, y := range labels {
		if y < 0 || y >= ncls {
			panic(fmt.Sprintf("nets.TripletKLLoss: label %d of sample %d is outside [0, %d)", y, i, ncls))
		}
		counts[y]++
	}
	for c, n := range counts {
		if n == 0 {
			panic(fmt.Sprintf("nets.TripletKLLoss: class %d has no sample (its mean is undefined)", c))
		}
	}

	// Pairwise Euclidean distances, [B, B].
	diff := autograd.Sub(autograd.Reshape(z, b, 1, dim), autograd.Reshape(z, 1, b, dim))
	d := autograd.Sqrt(autograd.AddScalar(autograd.Sum(autograd.Square(diff), false, 2), 1e-12))

	// nets.py evaluates relu(D[a][p] - D[a][n] + margin) on the whole
	// B×B×B cube and multiplies by a 0/1 mask of the valid triplets. Only
	// about a tenth of the cube is valid (345,600 of 4,096,000 entries at
	// B = 160 with 10 classes), so the valid pairs (D[a][p], D[a][n]) are
	// gathered instead: the same values, rounded the same way, and the same
	// gradient (the gathers' backward adds into D), with no B×B×B tensor.
	nTrip := 0
	for _, y := range labels {
		nTrip += int(counts[y]-1) * (b - int(counts[y]))
	}
	idxP, idxN := make([]int, 0, nTrip), make([]int, 0, nTrip)
	for a := range b {
		for p := range b {
			if p == a || labels[p] != labels[a] {
				continue
			}
			for n := range b {
				if labels[n] != labels[a] {
					idxP = append(idxP, a*b+p)
					idxN = append(idxN, a*b+n)
				}
			}
		}
	}
	if len(idxP) == 0 {
		panic("nets.TripletKLLoss: the batch has no valid triplet (it needs two classes and two samples of one)")
	}
	flat := autograd.Reshape(d, b*b)
	l := autograd.Relu(autograd.AddScalar(autograd.Sub(autograd.IndexSelect(flat, 0, idxP), autograd.IndexSelect(flat, 0, idxN)), Margin))
	trip := autograd.MulScalar(autograd.Sum(l, false), float32(1/float64(len(idxP))))

	// Class means through a one-hot matrix, as nets.py computes them.
	onehot := make([]float32, b*ncls)
	for i, y := range labels {
		onehot[i*ncls+y] = 1
	}
	dev := z.Value().Device()
	sums := autograd.MatMulT(autograd.Const(tensor.FromSliceOn(dev, onehot, b, ncls)), z, true, false)
	cmean := autograd.Div(sums, autograd.Const(tensor.FromSliceOn(dev, counts, ncls, 1)))
	kl := autograd.Mean(autograd.Square(autograd.Sub(z, autograd.IndexSelect(cmean, 0, labels))), false)
	return autograd.Add(trip, kl)
}
