package losses

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// BenchmarkTripletDistancing times one forward and backward pass of the
// triplet loss on class-balanced batches of the training shapes: 10 classes
// x 40 (B = 400, 5.6 M triplets) and 8 x 8 (B = 64). negMargin 2.5 makes
// every triplet active, the densest case for the backward pass. Besides the
// wall time per pass it reports the process CPU time per pass (all threads,
// spin-waits of the worker pool included), which a busy machine inflates
// less.
func BenchmarkTripletDistancing(b *testing.B) {
	for _, c := range []struct{ classes, per, d int }{{10, 40, 32}, {8, 8, 32}} {
		bs := c.classes * c.per
		b.Run(fmt.Sprintf("B=%d,d=%d", bs, c.d), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(11, 12))
			labels := balancedLabels(rng, c.classes, c.per)
			zt := tensor.FromSlice(clusteredBatch(rng, labels, c.d, 1, 1), bs, c.d)
			var stats TripletStats
			start, cpu0 := time.Now(), processCPU()
			for b.Loop() {
				z := autograd.Param(zt)
				var loss *autograd.Var
				loss, stats = TripletDistancing(z, labels, 0.1, 2.5)
				if err := loss.Backward(); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start).Seconds() / float64(b.N)
			b.ReportMetric(elapsed*1e3, "ms/fwd+bwd")
			b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N)*1e3, "cpu-ms/fwd+bwd")
			b.ReportMetric(float64(stats.Triplets)/elapsed/1e6, "Mtriplets/s")
		})
	}
}

// BenchmarkMonteCarloKL times one forward and backward pass of the KL term
// at B = 400, d = 32.
func BenchmarkMonteCarloKL(b *testing.B) {
	rng := rand.New(rand.NewPCG(13, 14))
	labels := balancedLabels(rng, 10, 40)
	k := randKLBatch(15, labels, 32, 10, 10)
	ts := k.tensors()
	means := k.meansTensor()
	start, cpu0 := time.Now(), processCPU()
	for b.Loop() {
		z, mu, lv := autograd.Param(ts[0]), autograd.Param(ts[1]), autograd.Param(ts[2])
		if err := MonteCarloKL(z, mu, lv, labels, means, 10, 0.1).Backward(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N)*1e3, "ms/fwd+bwd")
	b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N)*1e3, "cpu-ms/fwd+bwd")
}
