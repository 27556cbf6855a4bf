// Package losses holds the two training losses of VMDLS (METHOD.md section
// 2): the triplet loss with distancing on L2-normalized latents
// (TripletDistancing), and the Monte-Carlo KL term against the previous
// epoch's class means (MonteCarloKL). Both carry a closed-form backward pass
// (autograd.Custom), so that the triplet loss never materializes its
// millions of triplets and the KL term costs one pass over the batch.
//
// It builds on autograd and tensor, and on parallel for the worker pool
// (parallel.For) that spreads the triplet loss's anchors over the threads;
// not on nn. ovd's training step calls it. Both losses take latents as an
// autograd.Var of shape [B, d] with one int label per row and return a
// scalar Var to add to the step's loss; their internal sums are formed in
// float64. Shape mismatches panic,
// as in package tensor.
package losses
