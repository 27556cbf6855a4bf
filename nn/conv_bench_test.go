package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// BenchmarkConvLayerStep times one forward and backward pass of a Conv2d
// module through autograd (the mnist-conv 100->100 3x3 layer at 28x28, and a
// conv-BN-ReLU block at ResNet's first stage), reporting images/s and the
// allocations of a step: the output and gradient tensors themselves, graph
// records and small closures; the im2col scratch is reused.
func BenchmarkConvLayerStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	b.Run("conv_mnist_100x100_28x28_b32", func(b *testing.B) {
		conv := NewConv2d(rng, 100, 100, 3, 1, 1, true)
		x := autograd.Param(tensor.Randn(rng, 32, 100, 28, 28))
		b.ReportAllocs()
		for b.Loop() {
			y := conv.Forward(x)
			if err := y.BackwardWith(y.Value()); err != nil {
				b.Fatal(err)
			}
			ZeroGrad(conv)
			x.ZeroGrad()
		}
		b.ReportMetric(32/(b.Elapsed().Seconds()/float64(b.N)), "images/s")
	})
	b.Run("conv_bn_relu_64_32x32_b32", func(b *testing.B) {
		block := NewSequential(NewConv2d(rng, 64, 64, 3, 1, 1, false), NewBatchNorm2d(64, true), NewReLU())
		x := autograd.Param(tensor.Randn(rng, 32, 64, 32, 32))
		b.ReportAllocs()
		for b.Loop() {
			y := block.Forward(x)
			if err := y.BackwardWith(y.Value()); err != nil {
				b.Fatal(err)
			}
			ZeroGrad(block)
			x.ZeroGrad()
		}
		b.ReportMetric(32/(b.Elapsed().Seconds()/float64(b.N)), "images/s")
	})
}
