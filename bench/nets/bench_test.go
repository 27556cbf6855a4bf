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
func benchNet(b *testing.B, encType string, train bool, batch int) {
	n, err := New(encType, batch, train, 1)
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
func BenchmarkTrainStepMnistConv(b *testing.B) { benchNet(b, "mnist-conv", true, 160) }

// BenchmarkInferMnistConv is `vmdls bench infer --enc_type mnist-conv
// --batch_size 2500`: evaluation-mode forward without a graph.
func BenchmarkInferMnistConv(b *testing.B) { benchNet(b, "mnist-conv", false, 2500) }

// The CIFAR encoders at the issue's batch sizes, as `vmdls bench train-step
// --enc_type E --batch_size 128` and `vmdls bench infer --enc_type E
// --batch_size 256`: the bare encoder, nets.py's mean-square stand-in loss.
// Each step takes seconds on two cores (wresnet tens of seconds): pick them
// with -bench and use -benchtime 3x.

// BenchmarkTrainStepVGG is the vgg training step at batch 128.
func BenchmarkTrainStepVGG(b *testing.B) { benchNet(b, "vgg", true, 128) }

// BenchmarkInferVGG is the vgg inference pass at batch 256.
func BenchmarkInferVGG(b *testing.B) { benchNet(b, "vgg", false, 256) }

// BenchmarkTrainStepResNet18 is the resnet18 training step at batch 128.
func BenchmarkTrainStepResNet18(b *testing.B) { benchNet(b, "resnet18", true, 128) }

// BenchmarkInferResNet18 is the resnet18 inference pass at batch 256.
func BenchmarkInferResNet18(b *testing.B) { benchNet(b, "resnet18", false, 256) }

// BenchmarkTrainStepDenseNet is the densenet training step at batch 128.
func BenchmarkTrainStepDenseNet(b *testing.B) { benchNet(b, "densenet", true, 128) }

// BenchmarkInferDenseNet is the densenet inference pass at batch 256.
func BenchmarkInferDenseNet(b *testing.B) { benchNet(b, "densenet", false, 256) }

// BenchmarkTrainStepWideResNet is the wresnet training step at batch 128.
func BenchmarkTrainStepWideResNet(b *testing.B) { benchNet(b, "wresnet", true, 128) }

// BenchmarkInferWideResNet is the wresnet inference pass at batch 256.
func BenchmarkInferWideResNet(b *testing.B) { benchNet(b, "wresnet", false, 256) }

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
