package autograd

import (
	"fmt"
	"math"

	"github.com/vmdls-go/vmdls/tensor"
)

// MaxPool2d returns the window maxima of x [N, C, H, W]
// (torch.nn.functional.max_pool2d) and the indices of the maxima within
// their input planes, as a tensor of exact integers. The gradient of each
// output goes to its maximum (the first one on ties).
func MaxPool2d(x *Var, kernel, stride, padding [2]int) (*Var, *tensor.Tensor) {
	y, idx := tensor.MaxPool2d(x.value, kernel, stride, padding)
	in := x.value.Shape()
	return record("MaxPool2d", y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.MaxPool2dBackward(g, idx, in, kernel, stride, padding)}
	}, x), idx
}

// AvgPool2d returns the window means of x [N, C, H, W]
// (torch.nn.functional.avg_pool2d in floor mode); countIncludePad is
// PyTorch's flag of that name (true by default there).
func AvgPool2d(x *Var, kernel, stride, padding [2]int, countIncludePad bool) *Var {
	y := tensor.AvgPool2d(x.value, kernel, stride, padding, countIncludePad)
	in := x.value.Shape()
	return record("AvgPool2d", y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.AvgPool2dBackward(g, in, kernel, stride, padding, countIncludePad)}
	}, x)
}

// GlobalAvgPool2d returns the mean of each channel plane of x [N, C, H, W]
// as [N, C, 1, 1]: adaptive_avg_pool2d with output size 1.
func GlobalAvgPool2d(x *Var) *Var {
	if d := x.value.Dim(); d != 4 {
		panic(&tensor.ShapeError{Op: "autograd.GlobalAvgPool2d", Shapes: [][]int{x.value.Shape()}, Detail: "input must be [N, C, H, W]"})
	}
	return Mean(x, true, 2, 3)
}

// nearestIndices returns, for each of out output positions along an axis of
// in input positions, the input position nearest-neighbour upsampling reads,
// computed as PyTorch 1.13 does in float32: floor(o * scale) clipped to
// in-1, with scale = 1/scaleFactor when a factor was given and in/out
// otherwise.
func nearestIndices(in, out int, scaleFactor float64) []int {
	idx := make([]int, out)
	var scale float32
	if scaleFactor > 0 {
		scale = float32(1 / scaleFactor)
	} else {
		scale = float32(in) / float32(out)
	}
	for o := range idx {
		switch {
		case out == in:
			idx[o] = o
		case out == 2*in:
			idx[o] = o >> 1
		default:
			idx[o] = min(int(math.Floor(float64(float32(o)*scale))), in-1)
		}
	}
	return idx
}

// UpsampleNearest2d enlarges x [N, C, H, W] to [N, C, outH, outW] by
// nearest-neighbour sampling (torch.nn.functional.interpolate with
// mode="nearest"). Give either the output size (scaleH, scaleW = 0) or the
// scale factors (outH, outW = 0, computed as floor(H*scaleH), ...).
func UpsampleNearest2d(x *Var, outH, outW int, scaleH, scaleW float64) *Var {
	const op = "autograd.UpsampleNearest2d"
	sh := x.value.Shape()
	if len(sh) != 4 {
		panic(&tensor.ShapeError{Op: op, Shapes: [][]int{sh}, Detail: "input must be [N, C, H, W]"})
	}
	if scaleH > 0 || scaleW > 0 {
		if outH != 0 || outW != 0 || scaleH <= 0 || scaleW <= 0 {
			panic(&tensor.ShapeError{Op: op, Shapes: [][]int{sh}, Detail: "give either an output size or two positive scale factors"})
		}
		outH, outW = int(math.Floor(float64(sh[2])*scaleH)), int(math.Floor(float64(sh[3])*scaleW))
	}
	if outH < 1 || outW < 1 || sh[2] < 1 || sh[3] < 1 {
		panic(&tensor.ShapeError{Op: op, Shapes: [][]int{sh}, Detail: fmt.Sprintf("output size %dx%d must be positive", outH, outW)})
	}
	y := x
	if outH != sh[2] {
		y = IndexSelect(y, 2, nearestIndices(sh[2], outH, scaleH))
	}
	if outW != sh[3] {
		y = IndexSelect(y, 3, nearestIndices(sh[3], outW, scaleW))
	}
	return y
}
