package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/tensor"
)

// Initializers with PyTorch's formulas (torch.nn.init). Each draws from an
// explicit source, in row-major order, so that a seed fixes the weights;
// the numbers differ from PyTorch's (a different generator), the
// distributions do not.

// FanMode selects which fan Kaiming initialization preserves the variance
// of: the forward pass's (FanIn) or the backward pass's (FanOut).
type FanMode int

// The fan modes of torch.nn.init.kaiming_*.
const (
	FanIn FanMode = iota
	FanOut
)

// Fans returns the fan-in and fan-out of a weight shape as PyTorch computes
// them: shape[1] and shape[0] times the product of the remaining axes (so a
// transposed convolution's [in, out, kh, kw] weight has fan-in out*kh*kw).
func Fans(shape []int) (fanIn, fanOut int) {
	if len(shape) < 2 {
		panic(fmt.Sprintf("nn.Fans: fan in and fan out need at least 2 dimensions, have shape %v", shape))
	}
	receptive := 1
	for _, s := range shape[2:] {
		receptive *= s
	}
	return shape[1] * receptive, shape[0] * receptive
}

// Gain returns torch.nn.init.calculate_gain(nonlinearity, param):
// "linear", "conv2d", "sigmoid" (and the other conv/identity names) give 1,
// "tanh" 5/3, "relu" sqrt(2), "leaky_relu" sqrt(2/(1+param²)) and "selu"
// 3/4.
func Gain(nonlinearity string, param float64) float64 {
	switch nonlinearity {
	case "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid":
		return 1
	case "tanh":
		return 5.0 / 3
	case "relu":
		return math.Sqrt2
	case "leaky_relu":
		return math.Sqrt(2 / (1 + param*param))
	case "selu":
		return 0.75
	}
	panic(fmt.Sprintf("nn.Gain: unsupported nonlinearity %q", nonlinearity))
}

func fan(shape []int, mode FanMode) int {
	in, out := Fans(shape)
	if mode == FanOut {
		return out
	}
	return in
}

// Uniform fills t in place with values uniform in [lo, hi) and returns t.
func Uniform(t *tensor.Tensor, rng *rand.Rand, lo, hi float64) *tensor.Tensor {
	return t.CopyFrom(tensor.Uniform(rng, float32(lo), float32(hi), t.Shape()...).To(t.Device()))
}

// Normal fills t in place with normal values of the given mean and standard
// deviation and returns t.
func Normal(t *tensor.Tensor, rng *rand.Rand, mean, std float64) *tensor.Tensor {
	return t.CopyFrom(tensor.Normal(rng, float32(mean), float32(std), t.Shape()...).To(t.Device()))
}

// Constant fills t with v and returns t.
func Constant(t *tensor.Tensor, v float64) *tensor.Tensor { return t.Fill(float32(v)) }

// KaimingUniform is torch.nn.init.kaiming_uniform_(t, a, mode,
// nonlinearity): uniform in ±gain*sqrt(3/fan), where a is the negative
// slope used by "leaky_relu".
func KaimingUniform(t *tensor.Tensor, rng *rand.Rand, a float64, mode FanMode, nonlinearity string) *tensor.Tensor {
	bound := math.Sqrt(3) * Gain(nonlinearity, a) / math.Sqrt(float64(fan(t.Shape(), mode)))
	return Uniform(t, rng, -bound, bound)
}

// KaimingNormal is torch.nn.init.kaiming_normal_(t, a, mode,
// nonlinearity): normal with mean 0 and std gain/sqrt(fan).
func KaimingNormal(t *tensor.Tensor, rng *rand.Rand, a float64, mode FanMode, nonlinearity string) *tensor.Tensor {
	std := Gain(nonlinearity, a) / math.Sqrt(float64(fan(t.Shape(), mode)))
	return Normal(t, rng, 0, std)
}

// defaultInit is the reset_parameters of PyTorch's Linear and conv layers:
// the weight kaiming-uniform with a = sqrt(5) (a bound of 1/sqrt(fan_in)) and
// the bias, when there is one, uniform in ±1/sqrt(fan_in).
func defaultInit(rng *rand.Rand, weight, bias *tensor.Tensor) {
	KaimingUniform(weight, rng, math.Sqrt(5), FanIn, "leaky_relu")
	if bias != nil {
		fanIn, _ := Fans(weight.Shape())
		bound := 0.0
		if fanIn > 0 {
			bound = 1 / math.Sqrt(float64(fanIn))
		}
		Uniform(bias, rng, -bound, bound)
	}
}
