package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/parallel"
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
				prev := parallel.SetThreads(threads)
				defer parallel.SetThreads(prev)
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
// by Winograd F(2×2) on the backbone layers at batch 32 and on the edge
// shapes of the cost model at their own batches, interleaved in one
// process, reporting the least time of the b.N calls (min-ms); compare the
// two paths' minima of several -count runs. With GOMAXPROCS=1 it gives
// the one-worker times winoModel estimates.
func BenchmarkConv2dDWPaths(b *testing.B) {
	shapes := slices.Clone(convBenchShapes)
	for i := range shapes {
		shapes[i].s.N = 32
	}
	for _, c := range append(shapes, convEdgeShapes...) {
		s := c.s
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

// TestWinogradGradTransformAsmMatchesGo checks the assembly transform of
// the output gradient's tiles against its Go twin bit for bit (signed
// zeros, infinities and a NaN among the data), on whole registers of
// lanes through random offsets up to the last tile g holds, and the
// wrapper's fallback where the lanes are not whole registers or a tile
// would reach past g.
func TestWinogradGradTransformAsmMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 23))
	for _, path := range winoAsmPaths(t) {
		withKernelPath(t, path, func() {
			for _, n := range []int{8, 16, 24, 64, 5, 13} {
				ldg := 2 + r.IntN(30)
				g := randSlice(r, ldg*(4+r.IntN(20)))
				g[r.IntN(len(g))] = float32(math.Inf(-1))
				g[r.IntN(len(g))] = float32(math.Copysign(0, -1))
				g[r.IntN(len(g))] = 0
				g[r.IntN(len(g))] = float32(math.NaN())
				last := len(g) - ldg - 2 // the last offset whose tile g holds
				offs := make([]int32, n)
				for j := range offs {
					offs[j] = int32(r.IntN(last + 1))
				}
				offs[r.IntN(n)] = int32(last)
				us := n + r.IntN(40)
				got, want := make([]float32, 16*us), make([]float32, 16*us)
				for i := range got {
					got[i], want[i] = float32(i), float32(i)
				}
				if n%8 == 0 {
					winoGrad2AVX2(&got[0], us, &g[0], &offs[0], n, ldg)
				} else {
					winoGrad2(got, us, g, offs, ldg)
				}
				winoGrad2Generic(want, us, g, offs, ldg)
				if i, ok := sameBits(got, want); !ok {
					t.Errorf("%s, %d lanes: u[%d] = %v, Go twin %v", path, n, i, got[i], want[i])
				}
				// Through the wrapper: the assembly for whole registers, else the twin.
				for i := range got {
					got[i] = float32(i)
				}
				winoGrad2(got, us, g, offs, ldg)
				if i, ok := sameBits(got, want); !ok {
					t.Errorf("%s, %d lanes, wrapper: u[%d] = %v, Go twin %v", path, n, i, got[i], want[i])
				}
			}
			// A tile one past the end: the wrapper must not hand it to the
			// assembly (the Go twin then panics on the bounds).
			g := make([]float32, 4*5)
			offs := make([]int32, 8)
			offs[7] = int32(len(g) - 5 - 1)
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: a tile past g was transformed", path)
					}
				}()
				winoGrad2(make([]float32, 16*8), 8, g, offs, 5)
			}()
		})
	}
}

// TestWinogradDWChoice checks the cost model's weight-gradient choice on
// the shapes where BenchmarkConv2dDWPaths measured the two paths at least
// 1.5 times apart: Winograd for the backbones' layers, im2col for the
// first layers (one to three channels, which pad the products' panels),
// 256 channels at 2×2, and batch one at 512 channels on 4×4 maps (products
// four tiles deep).
func TestWinogradDWChoice(t *testing.T) {
	defer func(p int) { convPath = p }(convPath)
	convPath = convAuto
	shapes := map[string]ConvShape{}
	for _, c := range append(slices.Clone(convBenchShapes), convEdgeShapes...) {
		shapes[c.name] = c.s
	}
	want := map[string]bool{
		"mnist_100x100_28x28": true, "resnet_64_32x32": true, "resnet_128_16x16": true, "resnet_256_8x8": true,
		"wresnet_160_32x32": true, "wresnet_320_16x16": true, "wresnet_640_8x8": true, "dense_48to12_32x32": true,
		"first_3to64_32x32": false, "mnist_1to100_28x28": false, "c256_2x2": false, "batch1_512_4x4": false,
	}
	for _, path := range winoAsmPaths(t) {
		withKernelPath(t, path, func() {
			for name, w := range want {
				s := shapes[name]
				if got := winoFor(&s, winoOpWeightGrad) != nil; got != w {
					t.Errorf("%s %s: Winograd chosen %v, want %v", path, name, got, w)
				}
			}
		})
	}
}
