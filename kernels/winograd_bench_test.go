package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vmdls-go/vmdls/parallel"
)

// minPerCall runs f in rounds of calls until the benchmark's b.N calls are
// done and returns the least time per call of any round: on a machine
// shared with other work the minimum is the uncontended cost, where the
// mean is not.
func minPerCall(b *testing.B, calls int, f func()) time.Duration {
	best := time.Duration(1<<63 - 1)
	for done := 0; done < b.N; done += calls {
		t0 := time.Now()
		for range calls {
			f()
		}
		best = min(best, time.Since(t0)/time.Duration(calls))
	}
	return best
}

// BenchmarkWinogradParts measures the parts of a Winograd convolution on
// each kernel path, the figures of winoCostTable: a panel's input and
// output transform per lane (tile-channel, tile-filter), and the
// micro-kernel per multiply-add at the depths convolutions have. Each
// reports the least time of its rounds (min-ns/lane, min-ps/MAC).
func BenchmarkWinogradParts(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, path := range []string{"avx512", "avx2", "generic"} {
		prev, err := SetPath(path)
		if err != nil {
			continue
		}
		kern := sgemmKernel()
		nr := kern.nr
		for _, tr := range winoAsmTransforms {
			a2 := (tr.m + 2) * (tr.m + 2)
			// Tiles of a 32-pixel-wide staged map, eight to a row.
			ldx := 8*tr.m + 2
			x := randSlice(r, ldx*40)
			offs := make([]int32, nr)
			yoffs := make([]int32, nr)
			for j := range offs {
				offs[j] = int32((j/8)*tr.m*ldx + (j%8)*tr.m)
				yoffs[j] = int32((j/8)*tr.m*32 + (j%8)*tr.m)
			}
			vs := winoStride(nr * 64)
			v := make([]float32, a2*vs)
			y := make([]float32, 32*40)
			b.Run(fmt.Sprintf("%s/in%d", path, tr.m), func(b *testing.B) {
				d := minPerCall(b, 64, func() { tr.in(v, vs, x, offs, ldx) })
				b.ReportMetric(float64(d.Nanoseconds())/float64(nr), "min-ns/lane")
			})
			b.Run(fmt.Sprintf("%s/out%d", path, tr.m), func(b *testing.B) {
				d := minPerCall(b, 64, func() { tr.out(y, 32, yoffs, v, vs, 0.5, true) })
				b.ReportMetric(float64(d.Nanoseconds())/float64(nr), "min-ns/lane")
			})
		}
		for _, k := range []int{64, 256} {
			a := randSlice(r, kern.mr*k)
			bp := randSlice(r, nr*k)
			c := make([]float32, kern.mr*nr)
			b.Run(fmt.Sprintf("%s/kernel_k%d", path, k), func(b *testing.B) {
				d := minPerCall(b, 64, func() { kern.fn(k, &a[0], &bp[0], &c[0], nr, 1, 0) })
				b.ReportMetric(float64(d.Nanoseconds())*1000/float64(kern.mr*nr*k), "min-ps/MAC")
			})
		}
		SetPath(prev)
	}
}

// BenchmarkWinogradFilters measures the filter transform of a 256×256
// layer per filter (min-ns/filter), on one worker.
func BenchmarkWinogradFilters(b *testing.B) {
	prev := parallel.SetThreads(1)
	defer parallel.SetThreads(prev)
	const k, c = 256, 256
	w := randSlice(rand.New(rand.NewPCG(1, 1)), k*c*9)
	for _, t := range []*winoTile{winoF2, winoF4} {
		p := newWinoPlan(winoShape{N: 1, C: c, H: 8, W: 8, K: k, PH: 1, PW: 1, OH: 8, OW: 8}, t, 1)
		u := make([]float32, t.alpha*t.alpha*p.ustride)
		b.Run(fmt.Sprintf("F%d", t.m), func(b *testing.B) {
			d := minPerCall(b, 1, func() { p.packFilters(u, w, false) })
			b.ReportMetric(float64(d.Nanoseconds())/(k*c), "min-ns/filter")
		})
	}
}
