package cuda

import (
	"github.com/vmdls-go/vmdls/tensor"
)

// The primitives below have no GPU kernel yet (convolution, pooling, batch
// normalization, softmax, gathers and indexed reductions come in later
// issues). The backend runs them on the host: it downloads the operands,
// computes with the CPU tensor ops, which are the reference anyway, and
// uploads the results. That is slow but keeps every op available on the GPU
// device, so code above the seam never has to ask where it runs.

func hostSoftmax(x []float32, outer, axis, inner int, log bool) []float32 {
	t := tensor.FromSlice(x, outer, axis, inner)
	if log {
		return tensor.LogSoftmax(t, 1).Data()
	}
	return tensor.Softmax(t, 1).Data()
}

func hostArgReduce(op tensor.ReduceOp, x []float32, outer, axis, inner int) ([]float32, []int) {
	t := tensor.FromSlice(x, outer, axis, inner)
	var v *tensor.Tensor
	var idx []int
	if op == tensor.RMin {
		v, idx = tensor.Min(t, 1, false)
	} else {
		v, idx = tensor.Max(t, 1, false)
	}
	return v.Data(), idx
}

func hostGather(src []float32, outer, axisLen, inner int, idx []int) []float32 {
	return tensor.FromSlice(src, outer, axisLen, inner).IndexSelect(1, idx).Data()
}

// hostIndexAdd adds src into dst in place.
func hostIndexAdd(dst, src []float32, outer, axisLen, inner int, idx []int) {
	t := tensor.FromSlice(dst, outer, axisLen, inner)
	tensor.IndexAdd(t, 1, idx, tensor.FromSlice(src, outer, len(idx), inner))
	copy(dst, t.Data())
}

func convTensors(p tensor.ConvParams, x, w []float32) (xt, wt *tensor.Tensor) {
	if x == nil {
		x = make([]float32, p.N*p.C*p.H*p.W)
	}
	if w == nil {
		w = make([]float32, p.K*p.C*p.KH*p.KW)
	}
	return tensor.FromSlice(x, p.N, p.C, p.H, p.W), tensor.FromSlice(w, p.K, p.C, p.KH, p.KW)
}

func hostConv2d(p tensor.ConvParams, x, w, bias []float32) []float32 {
	xt, wt := convTensors(p, x, w)
	var bt *tensor.Tensor
	if bias != nil {
		bt = tensor.FromSlice(bias, p.K)
	}
	st, pd := [2]int{p.SH, p.SW}, [2]int{p.PH, p.PW}
	if p.ReLU {
		return tensor.Conv2dReLU(xt, wt, bt, st, pd).Data()
	}
	return tensor.Conv2d(xt, wt, bt, st, pd).Data()
}

// hostConv2dBackward returns the wanted gradients (nil for the others); x
// and w may be nil when the gradients asked for do not need them.
func hostConv2dBackward(p tensor.ConvParams, wantX, wantW, wantB bool, dy, x, w []float32) (dx, dw, db []float32) {
	xt, wt := convTensors(p, x, w)
	dyt := tensor.FromSlice(dy, p.N, p.K, p.OH, p.OW)
	gx, gw, gb := tensor.Conv2dBackward(dyt, xt, wt, [2]int{p.SH, p.SW}, [2]int{p.PH, p.PW}, wantX, wantW, wantB)
	return dataOrNil(gx), dataOrNil(gw), dataOrNil(gb)
}

func dataOrNil(t *tensor.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Data()
}

func poolArgs(p tensor.PoolParams) (k, s, pd [2]int) {
	return [2]int{p.KH, p.KW}, [2]int{p.SH, p.SW}, [2]int{p.PH, p.PW}
}

func hostMaxPool2d(p tensor.PoolParams, x []float32) (y, idx []float32) {
	k, s, pd := poolArgs(p)
	yt, it := tensor.MaxPool2d(tensor.FromSlice(x, p.N, p.C, p.H, p.W), k, s, pd)
	return yt.Data(), it.Data()
}

func hostMaxPool2dBackward(p tensor.PoolParams, dy, idx []float32) []float32 {
	k, s, pd := poolArgs(p)
	sh := []int{p.N, p.C, p.OH, p.OW}
	return tensor.MaxPool2dBackward(tensor.FromSlice(dy, sh...), tensor.FromSlice(idx, sh...),
		[]int{p.N, p.C, p.H, p.W}, k, s, pd).Data()
}

func hostAvgPool2d(p tensor.PoolParams, x []float32) []float32 {
	k, s, pd := poolArgs(p)
	return tensor.AvgPool2d(tensor.FromSlice(x, p.N, p.C, p.H, p.W), k, s, pd, p.CountIncludePad).Data()
}

func hostAvgPool2dBackward(p tensor.PoolParams, dy []float32) []float32 {
	k, s, pd := poolArgs(p)
	return tensor.AvgPool2dBackward(tensor.FromSlice(dy, p.N, p.C, p.OH, p.OW),
		[]int{p.N, p.C, p.H, p.W}, k, s, pd, p.CountIncludePad).Data()
}

// hostChannelStats is the per-channel mean and biased variance of x as
// [n, c, hw], in float64 with the two-pass formula.
func hostChannelStats(x []float32, n, c, hw int) (mean, variance []float32) {
	mean, variance = make([]float32, c), make([]float32, c)
	m := float64(n * hw)
	for ch := range c {
		var s float64
		for i := range n {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				s += float64(v)
			}
		}
		mu := s / m
		var q float64
		for i := range n {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				d := float64(v) - mu
				q += d * d
			}
		}
		mean[ch], variance[ch] = float32(mu), float32(q/m)
	}
	return mean, variance
}

// hostChannelAffine computes y = x*scale[ch] + shift[ch] (y may be x).
func hostChannelAffine(y, x []float32, n, c, hw int, scale, shift []float32) {
	for i := range n {
		for ch := range c {
			o := (i*c + ch) * hw
			for j := o; j < o+hw; j++ {
				y[j] = x[j]*scale[ch] + shift[ch]
			}
		}
	}
}

func hostBatchNormBackward(wantX, wantGamma, wantBeta bool, dy, x []float32, n, c, hw int, mean, invstd, gamma []float32, batchStats bool) (dx, dgamma, dbeta []float32) {
	var gt *tensor.Tensor
	if gamma != nil {
		gt = tensor.FromSlice(gamma, c)
	}
	gx, gg, gb := tensor.BatchNorm2dBackward(tensor.FromSlice(dy, n, c, hw, 1), tensor.FromSlice(x, n, c, hw, 1),
		tensor.FromSlice(mean, c), tensor.FromSlice(invstd, c), gt, batchStats, wantX, wantGamma, wantBeta)
	return dataOrNil(gx), dataOrNil(gg), dataOrNil(gb)
}
