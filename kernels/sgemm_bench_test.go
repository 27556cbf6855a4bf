package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/vmdls-go/vmdls/parallel"
)

// BenchmarkSgemm measures C = A*B (no transposes, beta 0) on the square
// sizes and the two shapes a convolution layer produces, on one thread and
// on all of them, reporting GFLOP/s and allocations.
func BenchmarkSgemm(b *testing.B) {
	shapes := []struct {
		name    string
		m, n, k int
	}{
		{"sq256", 256, 256, 256},
		{"sq512", 512, 512, 512},
		{"sq1024", 1024, 1024, 1024},
		{"sq2048", 2048, 2048, 2048},
		{"conv100x900x25088", 100, 25088, 900},
		{"conv256x2304x1024", 256, 1024, 2304},
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range shapes {
		a := make([]float32, s.m*s.k)
		bm := make([]float32, s.k*s.n)
		c := make([]float32, s.m*s.n)
		for i := range a {
			a[i] = rng.Float32()
		}
		for i := range bm {
			bm[i] = rng.Float32()
		}
		for _, t := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("%s/t%d", s.name, t), func(b *testing.B) {
				prev := parallel.SetThreads(t)
				defer parallel.SetThreads(prev)
				b.ReportAllocs()
				Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n)
				b.ResetTimer()
				for b.Loop() {
					Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n)
				}
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
