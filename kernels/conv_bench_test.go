package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/parallel"
)

// convBenchShapes are the layers the issue races, at their training batch
// sizes: the mnist-conv 100->100 3x3 layer at 28x28 (batch 160) and the 3x3
// convolutions of ResNet-18's and WideResNet-28-10's CIFAR stages (batch 128). The batch matters:
// it decides how many image groups there are and so which schedule runs.
var convBenchShapes = []struct {
	name string
	s    ConvShape
}{
	{"mnist_100x100_28x28", ConvShape{N: 160, C: 100, H: 28, W: 28, K: 100, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"resnet_64_32x32", ConvShape{N: 128, C: 64, H: 32, W: 32, K: 64, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"resnet_128_16x16", ConvShape{N: 128, C: 128, H: 16, W: 16, K: 128, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"resnet_256_8x8", ConvShape{N: 128, C: 256, H: 8, W: 8, K: 256, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"resnet_512_4x4", ConvShape{N: 128, C: 512, H: 4, W: 4, K: 512, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"wresnet_160_32x32", ConvShape{N: 128, C: 160, H: 32, W: 32, K: 160, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"wresnet_320_16x16", ConvShape{N: 128, C: 320, H: 16, W: 16, K: 320, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"wresnet_640_8x8", ConvShape{N: 128, C: 640, H: 8, W: 8, K: 640, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
}

func convFlops(s ConvShape) float64 {
	return 2 * float64(s.N) * float64(s.K) * float64(s.C*s.KH*s.KW) * float64(s.OutH()*s.OutW())
}

// BenchmarkConv2d reports forward and backward (input and weight gradients)
// throughput in GFLOP/s and images/s, and allocations per call.
func BenchmarkConv2d(b *testing.B) {
	for _, c := range convBenchShapes {
		s := c.s
		r := rand.New(rand.NewPCG(1, 1))
		x := randSlice(r, s.N*s.C*s.H*s.W)
		w := randSlice(r, s.K*s.C*s.KH*s.KW)
		bias := randSlice(r, s.K)
		y := make([]float32, s.N*s.K*s.OutH()*s.OutW())
		dx, dw, db := make([]float32, len(x)), make([]float32, len(w)), make([]float32, s.K)
		report := func(b *testing.B, flops float64) {
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(flops/sec/1e9, "GFLOP/s")
			b.ReportMetric(float64(s.N)/sec, "images/s")
		}
		b.Run("forward/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Conv2d(s, y, x, w, bias)
			}
			report(b, convFlops(s))
		})
		b.Run("backward/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Conv2dBackward(s, dx, dw, db, y, x, w)
			}
			report(b, 2*convFlops(s))
		})
	}
}

// BenchmarkConv2dSchedule compares the per-worker and shared schedules on
// the same shapes.
func BenchmarkConv2dSchedule(b *testing.B) {
	defer func(v bool) { convPerWorker = v }(convPerWorker)
	for _, c := range convBenchShapes {
		s := c.s
		r := rand.New(rand.NewPCG(1, 1))
		x := randSlice(r, s.N*s.C*s.H*s.W)
		w := randSlice(r, s.K*s.C*s.KH*s.KW)
		y := make([]float32, s.N*s.K*s.OutH()*s.OutW())
		dx, dw := make([]float32, len(x)), make([]float32, len(w))
		for _, pw := range []bool{true, false} {
			name := "shared/"
			if pw {
				name = "perworker/"
			}
			b.Run("forward/"+name+c.name, func(b *testing.B) {
				convPerWorker = pw
				for b.Loop() {
					Conv2d(s, y, x, w, nil)
				}
				b.ReportMetric(convFlops(s)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOP/s")
			})
			b.Run("backward/"+name+c.name, func(b *testing.B) {
				convPerWorker = pw
				for b.Loop() {
					Conv2dBackward(s, dx, dw, nil, y, x, w)
				}
				b.ReportMetric(2*convFlops(s)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkConv2dBackwardDW compares the two formulations of the weight
// gradient's GEMM.
func BenchmarkConv2dBackwardDW(b *testing.B) {
	defer func(v bool) { convDWTransposed = v }(convDWTransposed)
	for _, c := range convBenchShapes {
		s := c.s
		r := rand.New(rand.NewPCG(1, 1))
		x := randSlice(r, s.N*s.C*s.H*s.W)
		w := randSlice(r, s.K*s.C*s.KH*s.KW)
		dy := randSlice(r, s.N*s.K*s.OutH()*s.OutW())
		dw := make([]float32, len(w))
		for _, tr := range []bool{true, false} {
			name := "direct/"
			if tr {
				name = "transposed/"
			}
			b.Run(name+c.name, func(b *testing.B) {
				convDWTransposed = tr
				for b.Loop() {
					Conv2dBackward(s, nil, dw, nil, dy, x, nil)
				}
				b.ReportMetric(convFlops(s)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkMaxPool2d times the 2x2 stride-2 pool of mnist-conv's first
// stage (batch 32, 100 channels at 28x28), forward and backward.
func BenchmarkMaxPool2d(b *testing.B) {
	s := PoolShape{N: 32, C: 100, H: 28, W: 28, KH: 2, KW: 2, SH: 2, SW: 2}
	x := randSlice(rand.New(rand.NewPCG(1, 1)), s.N*s.C*s.H*s.W)
	y := make([]float32, s.N*s.C*s.OutH()*s.OutW())
	idx := make([]float32, len(y))
	dx := make([]float32, len(x))
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			MaxPool2d(s, y, idx, x)
		}
		b.ReportMetric(float64(len(x))*4/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GB/s")
	})
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			MaxPool2dBackward(s, dx, y, idx)
		}
		b.ReportMetric(float64(len(x))*4/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GB/s")
	})
}

func BenchmarkMaxPool2dGeneralLoop(b *testing.B) {
	defer func() { maxPoolPairs = true }()
	maxPoolPairs = false
	BenchmarkMaxPool2d(b)
}

// BenchmarkConv2dPaths compares im2col with Winograd F(2×2) and F(4×4)
// on the backbone shapes, forward and input gradient, on one worker and on
// two: the measurements behind winoModel. Besides the mean it reports the
// least time of the b.N calls (min-ms, and GFLOP/s of the direct form at
// that time), the figure to compare on a machine shared with other work.
func BenchmarkConv2dPaths(b *testing.B) {
	defer func(v *winoTile) { winoForceTile = v }(winoForceTile)
	defer func(p int) { convPath = p }(convPath)
	for _, c := range convBenchShapes {
		s := c.s
		r := rand.New(rand.NewPCG(1, 1))
		x := randSlice(r, s.N*s.C*s.H*s.W)
		w := randSlice(r, s.K*s.C*s.KH*s.KW)
		bias := randSlice(r, s.K)
		dy := randSlice(r, s.N*s.K*s.OutH()*s.OutW())
		y := make([]float32, len(dy))
		dx := make([]float32, len(x))
		paths := []struct {
			name string
			t    *winoTile
		}{{"im2col", nil}, {"F2", winoF2}, {"F4", winoF4}}
		for _, threads := range []int{1, 2} {
			for _, pth := range paths {
				run := func(b *testing.B, f func()) {
					prev := parallel.SetThreads(threads)
					defer parallel.SetThreads(prev)
					convPath, winoForceTile = convIm2col, pth.t
					f()
					d := minPerCall(b, 1, f)
					b.ReportMetric(float64(d.Microseconds())/1000, "min-ms")
					b.ReportMetric(convFlops(s)/d.Seconds()/1e9, "GFLOP/s")
				}
				b.Run(fmt.Sprintf("forward/%s/t%d/%s", c.name, threads, pth.name), func(b *testing.B) {
					run(b, func() { Conv2d(s, y, x, w, bias) })
				})
				b.Run(fmt.Sprintf("dx/%s/t%d/%s", c.name, threads, pth.name), func(b *testing.B) {
					run(b, func() { Conv2dBackward(s, dx, nil, nil, dy, nil, w) })
				})
			}
		}
	}
}

// convEdgeShapes are 3×3 stride-1 layers at the edges of winoModel's
// choice: first layers (few input channels), DenseNet's 12-filter layers,
// tiny maps, and batches of one.
var convEdgeShapes = []struct {
	name string
	s    ConvShape
}{
	{"first_3to64_32x32", ConvShape{N: 16, C: 3, H: 32, W: 32, K: 64, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"mnist_1to100_28x28", ConvShape{N: 16, C: 1, H: 28, W: 28, K: 100, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"dense_48to12_32x32", ConvShape{N: 16, C: 48, H: 32, W: 32, K: 12, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"dense_48to12_8x8", ConvShape{N: 16, C: 48, H: 8, W: 8, K: 12, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"c16_16x16", ConvShape{N: 16, C: 16, H: 16, W: 16, K: 16, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"c32_7x7", ConvShape{N: 16, C: 32, H: 7, W: 7, K: 32, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"c256_2x2", ConvShape{N: 16, C: 256, H: 2, W: 2, K: 256, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"c64_9x9_valid", ConvShape{N: 16, C: 64, H: 9, W: 9, K: 64, KH: 3, KW: 3, SH: 1, SW: 1}},
	{"batch1_64_32x32", ConvShape{N: 1, C: 64, H: 32, W: 32, K: 64, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
	{"batch1_512_4x4", ConvShape{N: 1, C: 512, H: 4, W: 4, K: 512, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}},
}

// BenchmarkConv2dAuto compares the per-shape choice ("auto") with im2col
// and F(2×2) forced on convEdgeShapes, forward, input and weight
// gradients, on all workers, reporting the least time of the b.N calls (min-us) and what
// auto chose; run it with VMDLS_KERNELS=avx2 or generic for the other
// paths' models.
func BenchmarkConv2dAuto(b *testing.B) {
	defer func(p int) { convPath = p }(convPath)
	for _, c := range convEdgeShapes {
		s := c.s
		r := rand.New(rand.NewPCG(1, 1))
		x := randSlice(r, s.N*s.C*s.H*s.W)
		w := randSlice(r, s.K*s.C*s.KH*s.KW)
		dy := randSlice(r, s.N*s.K*s.OutH()*s.OutW())
		y := make([]float32, len(dy))
		dx := make([]float32, len(x))
		dw := make([]float32, len(w))
		products := []struct {
			name string
			op   winoOp
			f    func()
		}{
			{"forward", winoOpForward, func() { Conv2d(s, y, x, w, nil) }},
			{"dx", winoOpInputGrad, func() { Conv2dBackward(s, dx, nil, nil, dy, nil, w) }},
			{"dw", winoOpWeightGrad, func() { Conv2dBackward(s, nil, dw, nil, dy, x, nil) }},
		}
		for _, path := range []int{convIm2col, convWinograd, convAuto} {
			for _, pr := range products {
				op, f := pr.name, pr.f
				name := convPathNames[path]
				if path == convAuto {
					convPath = convAuto
					name = "auto-im2col"
					if winoFor(&s, pr.op) != nil {
						name = "auto-F2"
					}
				}
				b.Run(fmt.Sprintf("%s/%s/%s", op, c.name, name), func(b *testing.B) {
					convPath = path
					f()
					d := minPerCall(b, 1, f)
					b.ReportMetric(float64(d.Nanoseconds())/1000, "min-us")
				})
			}
		}
	}
}
