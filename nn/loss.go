package nn

import (
	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
	"slices"
)

// MSELoss is torch.nn.functional.mse_loss with mean reduction: the mean of
// (pred - target)² over every element. The shapes must match (PyTorch
// broadcasts with a warning; here a mismatch is an error).
func MSELoss(pred, target *autograd.Var) *autograd.Var {
	if !slices.Equal(pred.Shape(), target.Shape()) {
		panic(&tensor.ShapeError{Op: "nn.MSELoss", Shapes: [][]int{pred.Shape(), target.Shape()}, Detail: "prediction and target shapes differ"})
	}
	return autograd.Mean(autograd.Square(autograd.Sub(pred, target)), false)
}
