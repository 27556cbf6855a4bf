package nets

import (
	"testing"
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
