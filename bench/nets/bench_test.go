package nets

import (
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// benchNet times n.Train or n.Infer per iteration and reports images/s,
// GFLOP/s (nets.py's count) and the process's peak RSS. Run with
// -benchtime=Nx (a step takes a second or more); README.md has the
// PyTorch commands to compare with.
func benchNet(b *testing.B, train bool, batch int) {
	n, err := New("mnist-conv", batch, train, 1)
	if err != nil {
		b.Fatal(err)
	}
	step, flop := n.Infer, n.FwdFLOPs
	if train {
		step, flop = n.Train, n.TrainFLOPs
	}
	step() // warm-up: buffers, scratch and worker pools
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		step()
	}
	s := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(batch)/s, "images/s")
	b.ReportMetric(flop*float64(batch)/s/1e9, "GFLOP/s")
	b.ReportMetric(PeakRSSMB(), "peak-RSS-MiB")
}

// BenchmarkTrainStepMnistConv is `vmdls bench train-step --enc_type
// mnist-conv --batch_size 160`: forward, stand-in loss, backward, SGD.
func BenchmarkTrainStepMnistConv(b *testing.B) { benchNet(b, true, 160) }

// BenchmarkInferMnistConv is `vmdls bench infer --enc_type mnist-conv
// --batch_size 2500`: evaluation-mode forward without a graph.
func BenchmarkInferMnistConv(b *testing.B) { benchNet(b, false, 2500) }

// BenchmarkTripletKLLoss160 is the stand-in loss of the training step alone,
// forward and backward, at nets.py's size (160 embeddings of 32, 10 classes).
func BenchmarkTripletKLLoss160(b *testing.B) {
	labels, err := BalancedLabels(160, NumClasses)
	if err != nil {
		b.Fatal(err)
	}
	z := autograd.Param(tensor.Randn(rand.New(rand.NewPCG(1, 2)), 160, LatentDim))
	b.ReportAllocs()
	for b.Loop() {
		z.ZeroGrad()
		if err := TripletKLLoss(z, labels, NumClasses).Backward(); err != nil {
			b.Fatal(err)
		}
	}
}
