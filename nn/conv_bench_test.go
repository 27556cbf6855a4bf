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

// mnistConvEncoder is the mnist-conv encoder of METHOD.md section 6 with
// its two latent heads (latent 32): 843,964 parameters.
func mnistConvEncoder(rng *rand.Rand) (*Sequential, *Linear, *Linear) {
	c := 100
	enc := NewSequential(
		NewConv2d(rng, 1, c, 3, 1, 1, true), NewReLU(), NewConv2d(rng, c, c, 3, 1, 1, true), NewReLU(), NewMaxPool2d(2, 0, 0),
		NewConv2d(rng, c, c, 3, 1, 1, true), NewReLU(), NewConv2d(rng, c, c, 3, 1, 1, true), NewReLU(), NewMaxPool2d(2, 0, 0),
		NewConv2d(rng, c, c, 3, 1, 1, true), NewReLU(), NewMaxPool2d(2, 0, 0), NewFlatten(), NewLinear(rng, 900, 500, true))
	return enc, NewLinear(rng, 500, 32, true), NewLinear(rng, 500, 32, true)
}

// BenchmarkMnistConvStep is the layers' share of the training race:
// forward and backward of the mnist-conv encoder and heads at batch 160
// with a mean-square stand-in loss (no optimizer step), and the
// evaluation-mode forward at batch 500. GFLOP/s counts conv and linear
// multiply-adds as ../shared/anchors/nets.py does.
func BenchmarkMnistConvStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	enc, mu, logvar := mnistConvEncoder(rng)
	if total, _ := NumParams(enc); total+2*(500*32+32) != 843964 {
		b.Fatalf("mnist-conv has %d parameters, want 843,964", total+2*(500*32+32))
	}
	// Per image: conv1 9*100*784, conv2 900*100*784, conv3/4 900*100*196,
	// conv5 900*100*49, linear 900*500 + 2*500*32 (MACs).
	macs := 9.0*100*784 + 900*100*784 + 2*900*100*196 + 900*100*49 + 900*500 + 2*500*32
	trainFlops := 2 * macs * 3 // forward, dW, dX (the first layer's dX is not needed; nets.py counts it the same way)
	trainFlops -= 2 * 9 * 100 * 784
	b.Run("train_b160", func(b *testing.B) {
		x := autograd.Const(tensor.Randn(rng, 160, 1, 28, 28))
		b.ReportAllocs()
		for b.Loop() {
			h := enc.Forward(x)
			loss := autograd.Add(autograd.Mean(autograd.Square(mu.Forward(h)), false),
				autograd.Mean(autograd.Square(logvar.Forward(h)), false))
			if err := loss.Backward(); err != nil {
				b.Fatal(err)
			}
			ZeroGrad(enc)
			ZeroGrad(mu)
			ZeroGrad(logvar)
		}
		sec := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(160/sec, "images/s")
		b.ReportMetric(160*trainFlops/sec/1e9, "GFLOP/s")
	})
	b.Run("infer_b500", func(b *testing.B) {
		SetTraining(enc, false)
		defer SetTraining(enc, true)
		x := autograd.Const(tensor.Randn(rng, 500, 1, 28, 28))
		b.ReportAllocs()
		for b.Loop() {
			autograd.NoGrad(func() { mu.Forward(enc.Forward(x)) })
		}
		sec := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(500/sec, "images/s")
		b.ReportMetric(500*2*macs/sec/1e9, "GFLOP/s")
	})
}
