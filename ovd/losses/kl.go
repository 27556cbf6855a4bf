package losses

import (
	"fmt"
	"math"
	"slices"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// Prior standard deviations of the KL term: a known class's latents are
// pulled towards its mean with std 0.1; the reference writes std 1 for a
// label >= classNum.
const (
	knownStd   = 0.1
	unknownStd = 1.0
)

// MonteCarloKL is the KL term of the reference's training step (vae.py,
// `step`), a one-sample Monte-Carlo estimate at the sampled z:
//
//	log_qz = log N(z; mu, exp(logvar))        (elementwise)
//	kl_c   = mean over the rows of class c and all coordinates of
//	         log_qz - log N(z; classMeans[c], std_c²)
//	KL     = sum over the classes c present in labels of coeff * kl_c / P
//
// with P the number of present classes and std_c = 0.1 for c < classNum, 1
// otherwise. z, mu and logvar have shape [B, d]; classMeans has shape [C, d]
// with a row for every label (the previous epoch's class means; nil means
// all zeros, as in epoch 0). Gradients flow to z, mu and logvar as separate
// inputs; when z is mu + exp(logvar/2) * eps built in the graph, Backward
// adds the path through z, which is what the reference's rsample gives.
// The terms are formed in float64, with the 2π constants cancelled.
func MonteCarloKL(z, mu, logvar *autograd.Var, labels []int, classMeans *tensor.Tensor, classNum int, coeff float32) *autograd.Var {
	shape := z.Shape()
	if len(shape) != 2 || shape[0] != len(labels) || !slices.Equal(mu.Shape(), shape) || !slices.Equal(logvar.Shape(), shape) {
		panic(&tensor.ShapeError{Op: "losses.MonteCarloKL", Shapes: [][]int{shape, mu.Shape(), logvar.Shape()},
			Detail: fmt.Sprintf("want z, mu and logvar of one shape [B, d] with B = len(labels) = %d", len(labels))})
	}
	b, d := shape[0], shape[1]
	var means []float32
	rows := math.MaxInt
	if classMeans != nil {
		ms := classMeans.Shape()
		if len(ms) != 2 || ms[1] != d {
			panic(&tensor.ShapeError{Op: "losses.MonteCarloKL", Shapes: [][]int{shape, ms},
				Detail: "want classMeans of shape [C, d]"})
		}
		rows = ms[0]
		means = hostData(classMeans)
	}
	counts := map[int]int{}
	for _, y := range labels {
		if y < 0 || y >= rows {
			panic(fmt.Sprintf("losses.MonteCarloKL: label %d has no class mean (classMeans has %d rows)", y, rows))
		}
		counts[y]++
	}
	zs, ms, lvs := hostData(z.Value()), hostData(mu.Value()), hostData(logvar.Value())
	present := float64(len(counts))
	// w[i] is the weight of row i's terms in KL: coeff / (P * n_c * d).
	w := make([]float64, b)
	for i, y := range labels {
		w[i] = float64(coeff) / (present * float64(counts[y]) * float64(d))
	}
	// Sum per class, then over the classes in ascending order (torch.unique).
	// ivar = exp(-logvar), kept for the backward pass.
	ivar := make([]float64, b*d)
	classSum := map[int]float64{}
	for i, y := range labels {
		std := classStd(y, classNum)
		ip, logStd := 1/(2*std*std), math.Log(std)
		var s float64
		for k := range d {
			j := i*d + k
			zz, mm, lv := float64(zs[j]), float64(ms[j]), float64(lvs[j])
			var m float64
			if means != nil {
				m = float64(means[y*d+k])
			}
			iv := math.Exp(-lv)
			ivar[j] = iv
			e, f := zz-mm, zz-m
			s += -e*e*iv/2 - lv/2 + f*f*ip + logStd
		}
		classSum[y] += s
	}
	ys := make([]int, 0, len(counts))
	for y := range counts {
		ys = append(ys, y)
	}
	slices.Sort(ys)
	var kl float64
	for _, y := range ys {
		kl += float64(coeff) * classSum[y] / (float64(counts[y]) * float64(d)) / present
	}
	dev := z.Value().Device()
	out := tensor.Scalar(float32(kl))
	if dev != tensor.CPU {
		out = out.To(dev)
	}
	return autograd.Custom("MonteCarloKL", out, func(g *tensor.Tensor) []*tensor.Tensor {
		gz, gmu, glv := tensor.Zeros(b, d), tensor.Zeros(b, d), tensor.Zeros(b, d)
		dz, dmu, dlv := gz.Data(), gmu.Data(), glv.Data()
		up := float64(g.Item())
		for i, y := range labels {
			std := classStd(y, classNum)
			wi, iprior := up*w[i], 1/(std*std)
			for k := range d {
				j := i*d + k
				zz, mm := float64(zs[j]), float64(ms[j])
				var m float64
				if means != nil {
					m = float64(means[y*d+k])
				}
				e := (zz - mm) * ivar[j] // -d log_qz / dz
				dz[j] = float32(wi * (-e + (zz-m)*iprior))
				dmu[j] = float32(wi * e)
				dlv[j] = float32(wi * 0.5 * ((zz-mm)*e - 1))
			}
		}
		grads := []*tensor.Tensor{gz, gmu, glv}
		if dev != tensor.CPU {
			for i := range grads {
				grads[i] = grads[i].To(dev)
			}
		}
		return grads
	}, z, mu, logvar)
}

func classStd(y, classNum int) float64 {
	if y < classNum {
		return knownStd
	}
	return unknownStd
}
