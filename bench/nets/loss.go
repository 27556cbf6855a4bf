// Package nets times a VMDLS model's training step and inference the way
// ../shared/anchors/nets.py times PyTorch's, so that the two can be quoted
// side by side: the same network (an encoder of nn/backbone with the two
// latent heads), the same stand-in loss, optimizer, batch and FLOP count.
// The `vmdls bench train-step|infer` commands and the Benchmark functions of
// this package both run it.
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
// loss that exercises the same kind of work (all-pairs distances, a B×B×B
// triplet tensor, per-class means):
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

	// nets.py multiplies relu(D[a][p] - D[a][n] + margin) by a 0/1 mask of
	// the valid triplets. Adding the margin where valid and a huge negative
	// number elsewhere before the relu gives the same values and gradient
	// with two B×B×B tensors fewer (the mask kept for the product's backward
	// and the product itself): relu maps the invalid entries to 0 and their
	// gradient to 0, exactly as the mask does.
	const invalid = -1e30
	shift := make([]float32, b*b*b)
	var nTrip float64
	for a := range b {
		for p := range b {
			row := shift[(a*b+p)*b : (a*b+p+1)*b]
			if p == a || labels[p] != labels[a] {
				for n := range row {
					row[n] = invalid
				}
				continue
			}
			for n := range b {
				if labels[n] != labels[a] {
					row[n] = Margin
					nTrip++
				} else {
					row[n] = invalid
				}
			}
		}
	}
	if nTrip == 0 {
		panic("nets.TripletKLLoss: the batch has no valid triplet (it needs two classes and two samples of one)")
	}
	l := autograd.Relu(autograd.Add(autograd.Sub(autograd.Reshape(d, b, b, 1), autograd.Reshape(d, b, 1, b)),
		autograd.Const(tensor.FromSlice(shift, b, b, b))))
	trip := autograd.MulScalar(autograd.Sum(l, false), float32(1/nTrip))

	// Class means through a one-hot matrix, as nets.py computes them.
	onehot := make([]float32, b*ncls)
	for i, y := range labels {
		onehot[i*ncls+y] = 1
	}
	sums := autograd.MatMulT(autograd.Const(tensor.FromSlice(onehot, b, ncls)), z, true, false)
	cmean := autograd.Div(sums, autograd.Const(tensor.FromSlice(counts, ncls, 1)))
	kl := autograd.Mean(autograd.Square(autograd.Sub(z, autograd.IndexSelect(cmean, 0, labels))), false)
	return autograd.Add(trip, kl)
}
