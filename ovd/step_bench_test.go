package ovd

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/tensor"
)

// benchTrainer is a trainer on random 28×28 images, enough for step.
func benchTrainer(b *testing.B, generationEpoch int) (*trainer, *data.Batch) {
	cfg := mnistConfig("", "", 0, 0, 1)
	cfg.GenerationEpoch = generationEpoch
	m, err := buildModel(&cfg)
	if err != nil {
		b.Fatal(err)
	}
	t := &trainer{cfg: cfg, model: m, st: trainState{NegMargin: 2.5}}
	if err := t.buildOptimizer(); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	bs := cfg.BatchClasses * cfg.SampleCount
	batch := &data.Batch{X: tensor.Randn(rng, bs, 1, 28, 28), Labels: make([]int, bs)}
	for i := range batch.Labels {
		batch.Labels[i] = i / cfg.SampleCount
	}
	return t, batch
}

// BenchmarkMethodStep times one training step of the full method (triplet
// with distancing and the Monte-Carlo KL) on mnist-conv at the paper's
// batch (10 classes × 16), beside BenchmarkBareStep, the same network and
// optimizer with a trivial loss: the two differ only by the method's loss.
func BenchmarkMethodStep(b *testing.B) {
	t, batch := benchTrainer(b, 0)
	means := t.classMeansTensor()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		t.step(batch, 1, i, means)
	}
	b.ReportMetric(float64(b.N*len(batch.Labels))/time.Since(start).Seconds(), "images/s")
}

// BenchmarkBareStep is the backbone's bare training step: the same forward
// through both heads, a sum-of-squares stand-in loss, backward and Adam.
func BenchmarkBareStep(b *testing.B) {
	t, batch := benchTrainer(b, 0)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		mu, logvar := t.model.Encode(autograd.Const(batch.X))
		loss := autograd.Add(autograd.Mean(autograd.Square(mu), false), autograd.Mean(autograd.Square(logvar), false))
		t.opt.ZeroGrad()
		if err := loss.Backward(); err != nil {
			b.Fatal(err)
		}
		t.opt.Step()
	}
	b.ReportMetric(float64(b.N*len(batch.Labels))/time.Since(start).Seconds(), "images/s")
}
