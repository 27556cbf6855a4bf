package cuda

import (
	"fmt"

	"github.com/vmdls-go/vmdls/tensor"
)

// flat concatenates the tensors' elements, so that a case with several
// results (values and indices, three gradients) compares them all.
func flat(ts ...*tensor.Tensor) *tensor.Tensor {
	parts := make([]*tensor.Tensor, len(ts))
	for i, t := range ts {
		parts[i] = t.Reshape(t.Numel())
	}
	return tensor.Concat(0, parts...)
}

// indicesOn returns host indices as a float tensor on dev, to compare them
// with the values beside them.
func indicesOn(idx []int, dev tensor.Device) *tensor.Tensor {
	f := make([]float32, len(idx))
	for i, x := range idx {
		f[i] = float32(x)
	}
	return tensor.FromSlice(f, len(f)).To(dev)
}

// withColChunk runs op with the convolutions' im2col chunk lowered to
// floats, so that a small case takes the several-chunk path (the weight
// gradient accumulated over chunks) that real batches take.
func withColChunk(floats int, op caseOp) caseOp {
	return func(t []*tensor.Tensor) *tensor.Tensor {
		old := colChunkFloats
		colChunkFloats = floats
		defer func() { colChunkFloats = old }()
		return op(t)
	}
}

// nnCases checks the neural-network primitives: convolution forward (with
// bias, fused ReLU, strides, 1×1), both backward passes (single and several
// chunks) and the transposed convolution built on them; max and average
// pooling with their backward passes (ties, padding, both divisors); batch
// normalization in training and evaluation and its backward; softmax and
// log-softmax on inner and last axes; max and min with indices; gathers and
// indexed adds with repeated indices; dropout; the SGD and Adam steps.
// Pooling, gathers, indexed adds and arg-reductions add or compare in the
// CPU's order, and dropout and the optimizer steps round as the CPU's:
// they must match exactly.
func nnCases() []stCase {
	s1, p1, p0, s2 := [2]int{1, 1}, [2]int{1, 1}, [2]int{0, 0}, [2]int{2, 2}
	ints := func(shapes ...[]int) caseInputs { return intInputs(9, shapes...) }
	convBack := func(stride, pad [2]int) caseOp {
		return func(t []*tensor.Tensor) *tensor.Tensor {
			dx, dw, db := tensor.Conv2dBackward(t[0], t[1], t[2], stride, pad, true, true, true)
			return flat(dx, dw, db)
		}
	}
	cs := []stCase{
		gemmCase("conv2d 3x3 stride 1 pad 1, bias", uniInputs(-1, 1, []int{4, 5, 12, 12}, []int{7, 5, 3, 3}, []int{7}),
			func(t []*tensor.Tensor) *tensor.Tensor { return tensor.Conv2d(t[0], t[1], t[2], s1, p1) }),
		gemmCase("conv2d 3x3 stride 2 pad 1, fused ReLU", uniInputs(-1, 1, []int{3, 4, 11, 9}, []int{6, 4, 3, 3}),
			func(t []*tensor.Tensor) *tensor.Tensor { return tensor.Conv2dReLU(t[0], t[1], nil, s2, p1) }),
		gemmCase("conv2d 1x1", uniInputs(-1, 1, []int{2, 16, 8, 8}, []int{8, 16, 1, 1}),
			func(t []*tensor.Tensor) *tensor.Tensor { return tensor.Conv2d(t[0], t[1], nil, s1, p0) }),
		gemmCase("conv2d backward 3x3 stride 1 pad 1 (dx, dw, db)",
			uniInputs(-1, 1, []int{4, 7, 12, 12}, []int{4, 5, 12, 12}, []int{7, 5, 3, 3}), convBack(s1, p1)),
		gemmCase("conv2d backward 5x5 stride 2 (dx, dw, db)",
			uniInputs(-1, 1, []int{3, 4, 5, 5}, []int{3, 3, 13, 13}, []int{4, 3, 5, 5}), convBack(s2, p0)),
		gemmCase("conv2d forward and backward in chunks of 2 images",
			uniInputs(-1, 1, []int{5, 4, 8, 8}, []int{5, 3, 8, 8}, []int{4, 3, 3, 3}),
			withColChunk(2*27*64, func(t []*tensor.Tensor) *tensor.Tensor {
				dx, dw, db := tensor.Conv2dBackward(t[0], t[1], t[2], s1, p1, true, true, true)
				return flat(tensor.Conv2d(t[1], t[2], nil, s1, p1), dx, dw, db)
			})),
		gemmCase("conv_transpose2d stride 2 and its backward", uniInputs(-1, 1, []int{2, 6, 5, 5}, []int{6, 3, 3, 3}, []int{3}, []int{2, 3, 10, 10}),
			func(t []*tensor.Tensor) *tensor.Tensor {
				op := [2]int{1, 1}
				y := tensor.ConvTranspose2d(t[0], t[1], t[2], s2, p1, op)
				dx, dw, db := tensor.ConvTranspose2dBackward(t[3], t[0], t[1], s2, p1, op, true, true, true)
				return flat(y, dx, dw, db)
			}),
	}
	maxPool := func(k, s, p [2]int) caseOp {
		return func(t []*tensor.Tensor) *tensor.Tensor {
			y, idx := tensor.MaxPool2d(t[0], k, s, p)
			dx := tensor.MaxPool2dBackward(t[1], idx, t[0].Shape(), k, s, p)
			return flat(y, idx, dx)
		}
	}
	cs = append(cs,
		exactCase("maxpool 2x2 stride 2 with ties, indices, backward", ints([]int{3, 4, 10, 12}, []int{3, 4, 5, 6}), maxPool(s2, s2, p0)),
		exactCase("maxpool 3x3 stride 2 pad 1, indices, backward", ints([]int{2, 3, 11, 11}, []int{2, 3, 6, 6}), maxPool([2]int{3, 3}, s2, p1)),
	)
	for _, incl := range []bool{true, false} {
		cs = append(cs, exactCase(fmt.Sprintf("avgpool 3x3 stride 1 pad 1 count_include_pad=%v, backward", incl),
			uniInputs(-1, 1, []int{2, 3, 7, 9}, []int{2, 3, 7, 9}), func(t []*tensor.Tensor) *tensor.Tensor {
				k := [2]int{3, 3}
				y := tensor.AvgPool2d(t[0], k, s1, p1, incl)
				return flat(y, tensor.AvgPool2dBackward(t[1], t[0].Shape(), k, s1, p1, incl))
			}))
	}
	cs = append(cs,
		exactCase("avgpool 2x2 stride 2, backward", uniInputs(-1, 1, []int{4, 6, 8, 8}, []int{4, 6, 4, 4}), func(t []*tensor.Tensor) *tensor.Tensor {
			return flat(tensor.AvgPool2d(t[0], s2, s2, p0, true), tensor.AvgPool2dBackward(t[1], t[0].Shape(), s2, s2, p0, true))
		}),
		redCase("batchnorm training: y, batch statistics, running statistics",
			uniInputs(-1, 2, []int{6, 5, 7, 7}, []int{5}, []int{5}, []int{5}, []int{5}), func(t []*tensor.Tensor) *tensor.Tensor {
				rm, rv := t[3].Clone(), tensor.AddScalar(t[4], 1.5)
				y, mean, invstd := tensor.BatchNorm2d(t[0], t[1], t[2], rm, rv, true, 0.1, 1e-5)
				return flat(y, mean, invstd, rm, rv)
			}),
		redCase("batchnorm evaluation", uniInputs(-1, 2, []int{6, 5, 7, 7}, []int{5}, []int{5}, []int{5}, []int{5}), func(t []*tensor.Tensor) *tensor.Tensor {
			y, _, _ := tensor.BatchNorm2d(t[0], t[1], t[2], t[3], tensor.AddScalar(t[4], 1.5), false, 0.1, 1e-5)
			return y
		}),
		redCase("batchnorm backward, batch statistics (dx, dgamma, dbeta)",
			uniInputs(-1, 2, []int{6, 5, 7, 7}, []int{6, 5, 7, 7}, []int{5}), func(t []*tensor.Tensor) *tensor.Tensor {
				_, mean, invstd := tensor.BatchNorm2d(t[1], t[2], nil, nil, nil, true, 0.1, 1e-5)
				dx, dg, db := tensor.BatchNorm2dBackward(t[0], t[1], mean, invstd, t[2], true, true, true, true)
				return flat(dx, dg, db)
			}),
		redCase("batchnorm backward, fixed statistics, no gamma (dx)",
			uniInputs(-1, 2, []int{6, 5, 7, 7}, []int{6, 5, 7, 7}, []int{5}, []int{5}), func(t []*tensor.Tensor) *tensor.Tensor {
				invstd := tensor.AddScalar(t[3], 2)
				dx, _, _ := tensor.BatchNorm2dBackward(t[0], t[1], t[2], invstd, nil, false, true, false, false)
				return dx
			}),
		elCase("softmax over an inner axis", uniInputs(-5, 5, []int{8, 10, 7}), func(t []*tensor.Tensor) *tensor.Tensor { return tensor.Softmax(t[0], 1) }),
		elCase("log-softmax over the last axis", uniInputs(-5, 5, []int{64, 10}), func(t []*tensor.Tensor) *tensor.Tensor { return tensor.LogSoftmax(t[0], 1) }),
		exactCase("max and min with indices, ties", ints([]int{6, 9, 5}), func(t []*tensor.Tensor) *tensor.Tensor {
			mx, imx := tensor.Max(t[0], 1, false)
			mn, imn := tensor.Min(t[0], 2, false)
			return flat(mx, indicesOn(imx, t[0].Device()), mn, indicesOn(imn, t[0].Device()))
		}),
		exactCase("gather (index_select) with repeated indices", uniInputs(-1, 1, []int{4, 10, 6}), func(t []*tensor.Tensor) *tensor.Tensor {
			return flat(t[0].IndexSelect(1, []int{3, 0, 3, 9, 1}), t[0].IndexSelect(0, []int{2, 2, 0}))
		}),
		exactCase("index_add with repeated indices", uniInputs(-1, 1, []int{4, 10, 6}, []int{4, 5, 6}), func(t []*tensor.Tensor) *tensor.Tensor {
			d := t[0].Clone()
			tensor.IndexAdd(d, 1, []int{3, 0, 3, 9, 3}, t[1])
			return d
		}),
		exactCase("dropout p=0.3 forward and backward (counter-based mask), p=1", uniInputs(-2, 2, []int{7, 1001}, []int{7, 1001}),
			func(t []*tensor.Tensor) *tensor.Tensor {
				sc := float32(1 / (1 - 0.3))
				return flat(tensor.Dropout(t[0], 0x243f6a8885a308d3, 0.3, sc), tensor.Dropout(t[1], 0x243f6a8885a308d3, 0.3, sc),
					tensor.Dropout(t[0], 7, 1, 0))
			}),
		redCase("a recycled storage's block serves the next allocation", uniInputs(-1, 1, []int{64, 1000}), func(t []*tensor.Tensor) *tensor.Tensor {
			mark := tensor.AllocMark()
			y := tensor.MulScalar(t[0], 2)
			a := tensor.Sum(y, false)
			if !tensor.Recycle(y, mark) {
				panic("the storage was not recycled")
			}
			z := tensor.MulScalar(t[0], 3) // takes y's block on the GPU
			return flat(a, z, tensor.Sum(z, false))
		}),
		exactCase("SGD steps: weight decay, momentum (first and later), Nesterov",
			uniInputs(-1, 1, []int{3000}, []int{3000}, []int{3000}), func(t []*tensor.Tensor) *tensor.Tensor {
				p, buf := t[0].Clone(), tensor.ZerosLike(t[0])
				o := tensor.SGDOptions{WeightDecay: 5e-4, Momentum: 0.9, OneMinusDampening: 1, NegLR: -0.1, First: true}
				tensor.SGDStep(p, t[1], buf, o)
				o.First = false
				tensor.SGDStep(p, t[2], buf, o)
				o.Nesterov = true
				tensor.SGDStep(p, t[1], buf, o)
				plain := t[0].Clone()
				tensor.SGDStep(plain, t[2], nil, tensor.SGDOptions{NegLR: -0.01})
				return flat(p, buf, plain)
			}),
		exactCase("Adam steps: weight decay, AMSGrad",
			uniInputs(-1, 1, []int{3000}, []int{3000}, []int{3000}), func(t []*tensor.Tensor) *tensor.Tensor {
				o := tensor.AdamOptions{Beta1: 0.9, Beta2: 0.999, OneMinusBeta1: 0.1, OneMinusBeta2: 0.001,
					NegStep: -1e-3 / 0.1, SqrtBiasCorr2: 0.0316227766, Eps: 1e-8}
				p, m, v := t[0].Clone(), tensor.ZerosLike(t[0]), tensor.ZerosLike(t[0])
				tensor.AdamStep(p, t[1], m, v, nil, o)
				tensor.AdamStep(p, t[2], m, v, nil, o)
				o.WeightDecay = 1e-2
				q, mq, vq, vmax := t[0].Clone(), tensor.ZerosLike(t[0]), tensor.ZerosLike(t[0]), tensor.ZerosLike(t[0])
				tensor.AdamStep(q, t[1], mq, vq, vmax, o)
				tensor.AdamStep(q, t[2], mq, vq, vmax, o)
				return flat(p, m, v, q, mq, vq, vmax)
			}),
	)
	return cs
}
