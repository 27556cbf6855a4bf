package tensor

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkBatchNorm2d times training-mode batch norm forward and backward
// on ResNet-18's first-stage activations (batch 32, 64 channels, 32x32).
func BenchmarkBatchNorm2d(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := Randn(rng, 32, 64, 32, 32)
	gamma, beta := Ones(64), Zeros(64)
	rm, rv := Zeros(64), Ones(64)
	gb := float64(x.Numel()) * 4 / 1e9
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			BatchNorm2d(x, gamma, beta, rm, rv, true, 0.1, 1e-5)
		}
		b.ReportMetric(gb/(b.Elapsed().Seconds()/float64(b.N)), "GB/s")
	})
	_, mean, invstd := BatchNorm2d(x, gamma, beta, rm, rv, true, 0.1, 1e-5)
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			BatchNorm2dBackward(x, x, mean, invstd, gamma, true, true, true, true)
		}
		b.ReportMetric(gb/(b.Elapsed().Seconds()/float64(b.N)), "GB/s")
	})
}
