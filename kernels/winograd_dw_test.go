package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// winoDWTol bounds the normwise error of the Winograd weight gradient
// against the float64 direct one in the randomized test (N(0, 1) data, up
// to 67 channels): about three times the largest error seen there.
const winoDWTol = 1.5e-6

// TestWinogradDWMatchesDirect checks winoWeightGrad against the float64
// direct weight gradient on random 3×3 stride-1 shapes (H, W 1..9 and a
// few large maps, channels 1..67, batch 1..5, padding 0, 1 and 2), with
// NaN canaries around dW, on one worker and on two (different runs, so
// different partial sums).
func TestWinogradDWMatchesDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 21))
	shapes := winoRandomShapes(r, 40)
	for _, threads := range []int{1, 2} {
		for _, s := range shapes {
			t.Run(fmt.Sprintf("t%d/%dx%dx%dx%d_k%d_p%d%d", threads, s.N, s.C, s.H, s.W, s.K, s.PH, s.PW), func(t *testing.T) {
				prev := SetThreads(threads)
				defer SetThreads(prev)
				x := randSlice(r, s.N*s.C*s.H*s.W)
				w := randSlice(r, s.K*s.C*9)
				dy := randSlice(r, s.N*s.K*s.OutH()*s.OutW())
				dw, ok := canaryBuf(len(w))
				winoWeightGrad(s, dw, dy, x)
				if !ok() {
					t.Fatal("wrote outside dw")
				}
				_, want, _ := naiveConvBackward(s, dy, x, w)
				if e := normErr(dw, want); !(e <= winoDWTol) {
					t.Errorf("dw: error %.3g > %.0e", e, winoDWTol)
				}
			})
		}
	}
}

// TestWinogradDWError logs the normwise error of the Winograd and im2col
// weight gradients against the float64 direct one at 16 to 256 channels.
func TestWinogradDWError(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 22))
	for _, c := range []int{16, 64, 256} {
		s := ConvShape{N: 2, C: c, H: 12, W: 12, K: 32, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}
		x := randSlice(r, s.N*s.C*s.H*s.W)
		w := randSlice(r, s.K*s.C*9)
		dy := randSlice(r, s.N*s.K*s.OutH()*s.OutW())
		_, want, _ := naiveConvBackward(s, dy, x, w)
		dw := make([]float32, len(w))
		withConvPath(t, "im2col", func() { Conv2dBackward(s, nil, dw, nil, dy, x, nil) })
		ei := normErr(dw, want)
		winoWeightGrad(s, dw, dy, x)
		ew := normErr(dw, want)
		t.Logf("C=%3d dw: im2col %.2g, F2 %.2g", c, ei, ew)
		if !(ew <= winoDWTol) {
			t.Errorf("C=%d: F2 dw error %.3g > %.0e", c, ew, winoDWTol)
		}
	}
}

// BenchmarkConv2dDWPaths times the weight gradient by im2col (forced) and
// by Winograd F(2×2) on the backbone layers, interleaved in one process,
// at batch 32, reporting the least time of the b.N calls (min-ms); compare
// the two paths' minima of several -count runs.
func BenchmarkConv2dDWPaths(b *testing.B) {
	for _, c := range convBenchShapes {
		s := c.s
		s.N = 32
		r := rand.New(rand.NewPCG(1, 1))
		x := randSlice(r, s.N*s.C*s.H*s.W)
		dy := randSlice(r, s.N*s.K*s.OutH()*s.OutW())
		dw := make([]float32, s.K*s.C*9)
		b.Run(c.name+"/im2col", func(b *testing.B) {
			withConvPath(b, "im2col", func() {
				f := func() { Conv2dBackward(s, nil, dw, nil, dy, x, nil) }
				b.ReportMetric(float64(minPerCall(b, 1, f).Microseconds())/1000, "min-ms")
			})
		})
		b.Run(c.name+"/F2", func(b *testing.B) {
			f := func() { winoWeightGrad(s, dw, dy, x) }
			b.ReportMetric(float64(minPerCall(b, 1, f).Microseconds())/1000, "min-ms")
		})
	}
}
