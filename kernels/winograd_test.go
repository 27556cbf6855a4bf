package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// withConvPath runs f with the convolution path forced to name, restoring
// the previous one after.
func withConvPath(t testing.TB, name string, f func()) {
	t.Helper()
	prev, err := SetConvPath(name)
	if err != nil {
		t.Fatal(err)
	}
	defer SetConvPath(prev)
	f()
}

// withWinoTile runs f with Winograd forced at tile size wt.
func withWinoTile(t testing.TB, wt *winoTile, f func()) {
	t.Helper()
	defer func(v *winoTile) { winoForceTile = v }(winoForceTile)
	winoForceTile = wt
	withConvPath(t, "winograd", f)
}

var winoTiles = []*winoTile{winoF2, winoF4, winoF6}

// winoTol is the normwise bound each tile size is held to against the
// float64 direct convolution in the randomized tests (data N(0, 1), up to
// 67 channels): about three times the largest error seen there (F2 4e-7,
// F4 2e-6, F6 1e-5).
func winoTol(t *winoTile) float64 {
	switch t.m {
	case 2:
		return 1.5e-6
	case 4:
		return 6e-6
	}
	return 4e-5
}

// canaryBuf returns a slice of n floats inside a larger buffer whose
// margins are NaN, the slice itself filled with NaN too (every element must
// be written), and a check that the margins were not touched.
func canaryBuf(n int) ([]float32, func() bool) {
	const margin = 37
	buf := make([]float32, n+2*margin)
	nan := float32(math.NaN())
	for i := range buf {
		buf[i] = nan
	}
	return buf[margin : margin+n], func() bool {
		for i := 0; i < margin; i++ {
			if !math.IsNaN(float64(buf[i])) || !math.IsNaN(float64(buf[margin+n+i])) {
				return false
			}
		}
		return true
	}
}

// winoRandomShapes draws the shapes of the randomized tests: H and W from
// 1 to 9, a few large maps, channels 1..67, batch 1..5, padding 0 and 1
// (2 too, which the input gradient of padding 0 uses).
func winoRandomShapes(r *rand.Rand, n int) []ConvShape {
	var out []ConvShape
	large := [][2]int{{32, 32}, {28, 28}, {17, 23}, {16, 16}}
	for len(out) < n {
		s := ConvShape{N: 1 + r.IntN(5), C: 1 + r.IntN(67), K: 1 + r.IntN(67), KH: 3, KW: 3, SH: 1, SW: 1}
		s.H, s.W = 1+r.IntN(9), 1+r.IntN(9)
		if len(out)%8 == 7 {
			hw := large[r.IntN(len(large))]
			s.H, s.W = hw[0], hw[1]
			s.C, s.K = 1+r.IntN(24), 1+r.IntN(24)
		}
		s.PH = r.IntN(2)
		if len(out)%5 == 4 {
			s.PH = 2
		}
		s.PW = s.PH
		if len(out)%6 == 5 {
			s.PW = 1 - min(s.PH, 1)
		}
		if s.OutH() < 1 || s.OutW() < 1 {
			continue
		}
		out = append(out, s)
	}
	return out
}

// TestWinogradMatchesDirect runs random 3×3 stride-1 shapes on each
// forced path: every Winograd tile size, and im2col (nil) at its usual
// 1e-6, with the same canaries.
func TestWinogradMatchesDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 1))
	shapes := winoRandomShapes(r, 40)
	for _, wt := range append([]*winoTile{nil}, winoTiles...) {
		name := "im2col"
		if wt != nil {
			name = fmt.Sprintf("F%d", wt.m)
		}
		for _, s := range shapes {
			t.Run(fmt.Sprintf("%s/%dx%dx%dx%d_k%d_p%d%d", name, s.N, s.C, s.H, s.W, s.K, s.PH, s.PW), func(t *testing.T) {
				checkWinoShape(t, wt, s, r)
			})
		}
	}
}

// checkWinoShape compares forward (with and without bias, with the fused
// ReLU) and the input gradient on tile size wt (im2col if nil) with the
// float64 direct convolution, with NaN canaries around every output.
func checkWinoShape(t *testing.T, wt *winoTile, s ConvShape, r *rand.Rand) {
	oh, ow := s.OutH(), s.OutW()
	x := randSlice(r, s.N*s.C*s.H*s.W)
	w := randSlice(r, s.K*s.C*9)
	bias := randSlice(r, s.K)
	dy := randSlice(r, s.N*s.K*oh*ow)
	tol, force := 1e-6, func(f func()) { withConvPath(t, "im2col", f) }
	dwTol := tol
	if wt != nil {
		// Every forced tile size computes dw by F(2×2), held to its bound.
		tol, force = winoTol(wt), func(f func()) { withWinoTile(t, wt, f) }
		dwTol = winoDWTol
	}
	force(func() {
		for _, b := range [][]float32{nil, bias} {
			y, ok := canaryBuf(s.N * s.K * oh * ow)
			Conv2d(s, y, x, w, b)
			if !ok() {
				t.Fatalf("forward wrote outside y")
			}
			if e := normErr(y, naiveConv(s, x, w, b)); !(e <= tol) {
				t.Errorf("forward (bias %v): error %.3g > %.0e", b != nil, e, tol)
			}
			sr := s
			sr.ReLU = true
			yr, ok := canaryBuf(len(y))
			Conv2d(sr, yr, x, w, b)
			if !ok() {
				t.Fatalf("forward with ReLU wrote outside y")
			}
			for i := range yr {
				if yr[i] != max(y[i], 0) {
					t.Fatalf("fused relu %v at %d, want max(%v, 0)", yr[i], i, y[i])
				}
			}
		}
		dx, ok := canaryBuf(len(x))
		dw := make([]float32, len(w))
		db := make([]float32, s.K)
		Conv2dBackward(s, dx, dw, db, dy, x, w)
		if !ok() {
			t.Fatalf("backward wrote outside dx")
		}
		rx, rw, rb := naiveConvBackward(s, dy, x, w)
		if e := normErr(dx, rx); !(e <= tol) {
			t.Errorf("dx: error %.3g > %.0e", e, tol)
		}
		if e := normErr(dw, rw); !(e <= dwTol) {
			t.Errorf("dw: error %.3g > %.0e", e, dwTol)
		}
		if e := normErr(db, rb); !(e <= 1e-6) {
			t.Errorf("db: error %.3g", e)
		}
		dx2, ok := canaryBuf(len(x))
		Conv2dBackward(s, dx2, nil, nil, dy, nil, w)
		if !ok() {
			t.Fatalf("backward (dx alone) wrote outside dx")
		}
		for i := range dx2 {
			if dx2[i] != dx[i] {
				t.Fatalf("dx alone differs at %d", i)
			}
		}
	})
}

// The unrolled filter transforms agree with the table-driven definition
// to within float32 rounding of the same float64 value.
func TestWinogradFilterUnrolled(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 4))
	for _, c := range []struct {
		f func(u []float32, us int, g *[9]float64)
		G [][3]float64
	}{{winoFilter2, winoG2}, {winoFilter4, winoG4}} {
		a2 := len(c.G) * len(c.G)
		ref := winoFilter(c.G)
		for range 100 {
			var g [9]float64
			for i := range g {
				g[i] = float64(float32(r.NormFloat64()))
			}
			got, want := make([]float32, a2*3), make([]float32, a2*3)
			c.f(got, 3, &g)
			ref(want, 3, &g)
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-7*math.Max(1, math.Abs(float64(want[i]))) {
					t.Fatalf("alpha %d: u[%d] = %v, table-driven %v", len(c.G), i, got[i], want[i])
				}
			}
		}
	}
}

// TestWinogradError measures, and bounds, the normwise error of each tile
// size against the float64 direct convolution, forward and input
// gradient, on N(0, 1) data at 16, 64, 256 and 600 channels (past every
// path's channel block, so the products accumulate over several); im2col's
// is logged for comparison. The figures quoted in winograd.go come from
// here.
func TestWinogradError(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 5))
	for _, c := range []int{16, 64, 256, 600} {
		s := ConvShape{N: 1, C: c, H: 12, W: 12, K: 32, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}
		x := randSlice(r, s.N*s.C*s.H*s.W)
		w := randSlice(r, s.K*s.C*9)
		dy := randSlice(r, s.N*s.K*s.OutH()*s.OutW())
		want := naiveConv(s, x, w, nil)
		wantDx, _, _ := naiveConvBackward(s, dy, x, w)
		y := make([]float32, len(want))
		dx := make([]float32, len(x))
		withConvPath(t, "im2col", func() {
			Conv2d(s, y, x, w, nil)
			Conv2dBackward(s, dx, nil, nil, dy, nil, w)
		})
		t.Logf("C=%3d im2col: forward %.2g, dx %.2g", c, normErr(y, want), normErr(dx, wantDx))
		for _, wt := range winoTiles {
			withWinoTile(t, wt, func() {
				Conv2d(s, y, x, w, nil)
				Conv2dBackward(s, dx, nil, nil, dy, nil, w)
			})
			ef, eb := normErr(y, want), normErr(dx, wantDx)
			t.Logf("C=%3d F%d:     forward %.2g, dx %.2g", c, wt.m, ef, eb)
			if tol := winoTol(wt); !(ef <= tol && eb <= tol) {
				t.Errorf("C=%d F%d: errors %.3g, %.3g > %.0e", c, wt.m, ef, eb, tol)
			}
		}
	}
}

// The forward Winograd convolution and its input gradient are adjoint:
// <conv(x), dy> = <x, conv'(dy)> to within their rounding, so the
// gradient is that of the function the forward computes.
func TestWinogradAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 6))
	for _, wt := range winoTiles {
		for _, s := range winoRandomShapes(r, 12) {
			x := randSlice(r, s.N*s.C*s.H*s.W)
			w := randSlice(r, s.K*s.C*9)
			dy := randSlice(r, s.N*s.K*s.OutH()*s.OutW())
			y := make([]float32, len(dy))
			dx := make([]float32, len(x))
			withWinoTile(t, wt, func() {
				Conv2d(s, y, x, w, nil)
				Conv2dBackward(s, dx, nil, nil, dy, nil, w)
			})
			var a, b, scale float64
			for i := range y {
				a += float64(y[i]) * float64(dy[i])
				scale += math.Abs(float64(y[i]) * float64(dy[i]))
			}
			for i := range x {
				b += float64(x[i]) * float64(dx[i])
			}
			if math.Abs(a-b) > winoTol(wt)*scale {
				t.Errorf("F%d %+v: <conv x, dy> = %g, <x, conv' dy> = %g", wt.m, s, a, b)
			}
		}
	}
}

// Steady-state Winograd calls take their buffers (U, the staging, V, M)
// from the scratch free lists rather than allocating them: what they
// allocate is the pool's small closures and, now and then (when the
// garbage collector runs during a call), one buffer.
func TestWinogradScratchReused(t *testing.T) {
	if raceEnabled {
		// Instrumented, the workers run many times slower and interleave
		// differently: CI's race run once saw 1.8 MB allocated over five
		// calls, which 60 race runs here did not reproduce. The plain run
		// holds the property; the race run is for races.
		t.Skip("allocation counts are not stable under the race detector")
	}
	s := ConvShape{N: 8, C: 32, H: 16, W: 16, K: 32, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}
	r := rand.New(rand.NewPCG(14, 7))
	x, w := randSlice(r, s.N*s.C*s.H*s.W), randSlice(r, s.K*s.C*9)
	y := make([]float32, s.N*s.K*s.OutH()*s.OutW())
	dx := make([]float32, len(x))
	for _, wt := range []*winoTile{winoF2, winoF4} {
		// Start from an empty free list: the buffers of earlier tests would
		// otherwise crowd out the smallest of this call's (putScratch keeps
		// the largest).
		scratchMu.Lock()
		scratchFree = nil
		scratchMu.Unlock()
		withWinoTile(t, wt, func() {
			call := func() {
				Conv2d(s, y, x, w, nil)
				Conv2dBackward(s, dx, nil, nil, y, nil, w)
			}
			call()
			call()
			var footprint uint64 // bytes of the buffers the calls use
			scratchMu.Lock()
			for _, b := range scratchFree {
				footprint += uint64(4 * cap(b))
			}
			scratchMu.Unlock()
			// Bytes first: AllocsPerRun runs on one thread (GOMAXPROCS 1),
			// which changes the blocking and so the buffers' sizes.
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 5 {
				call()
			}
			runtime.ReadMemStats(&after)
			perCall := (after.TotalAlloc - before.TotalAlloc) / 5
			allocs := testing.AllocsPerRun(5, call)
			if allocs > 16 || perCall > footprint/4 {
				t.Errorf("F%d: forward+input gradient allocated %v times, %d bytes per call (scratch in use %d bytes)", wt.m, allocs, perCall, footprint)
			}
		})
	}
}

// TestWinogradForwardOnlyChoice holds the split that keeps training exact:
// on the automatic path F(4×4) is chosen for a forward-only convolution
// where the model estimates it fastest (the large backbone layers, not 512
// channels at 4×4, where BenchmarkConv2dPaths times the two tiles within
// 2%), and may be for the input gradient, but never for a forward pass
// that gradients flow back through nor for the weight gradient; and a
// forward-only Conv2d computes exactly what the chosen tile computes.
func TestWinogradForwardOnlyChoice(t *testing.T) {
	defer func(p int) { convPath = p }(convPath)
	convPath = convAuto
	want := map[string]*winoTile{
		"mnist_100x100_28x28": winoF4, "resnet_64_32x32": winoF4, "resnet_128_16x16": winoF4,
		"resnet_256_8x8": winoF4, "wresnet_160_32x32": winoF4, "dense_48to12_32x32": winoF4,
		"resnet_512_4x4": winoF2, "mnist_1to100_28x28": nil, "c256_2x2": nil,
	}
	shapes := map[string]ConvShape{}
	for _, c := range append(slices.Clone(convBenchShapes), convEdgeShapes...) {
		shapes[c.name] = c.s
	}
	for _, path := range append(winoAsmPaths(t), "generic") {
		withKernelPath(t, path, func() {
			for name, s := range shapes {
				for _, op := range []winoOp{winoOpForward, winoOpWeightGrad} {
					if winoFor(&s, op) == winoF4 {
						t.Errorf("%s %s: F(4×4) chosen for op %d, whose error reaches ReLU masks or Adam's zeros", path, name, op)
					}
				}
				fo := s
				fo.ForwardOnly = true
				if wt, ok := want[name]; ok && path != "generic" {
					if got := winoFor(&fo, winoOpForward); got != wt {
						t.Errorf("%s %s: forward-only choice %v, want %v", path, name, tileName(got), tileName(wt))
					}
				}
			}
		})
	}
	// A forced tile wins over the path it is forced with (the tests of F4
	// and F6 rely on it), except for the weight gradient, F(2×2) only.
	for _, wt := range winoTiles {
		s := shapes["resnet_64_32x32"]
		withWinoTile(t, wt, func() {
			for _, op := range []winoOp{winoOpForward, winoOpInputGrad, winoOpWeightGrad} {
				want := wt
				if op == winoOpWeightGrad {
					want = winoF2
				}
				if got := winoFor(&s, op); got != want {
					t.Errorf("%s forced: op %d runs %s", tileName(wt), op, tileName(got))
				}
			}
		})
	}
	// What a forward-only call runs: the chosen tile's result, bit for bit.
	r := rand.New(rand.NewPCG(4, 4))
	s := ConvShape{N: 3, C: 24, H: 12, W: 12, K: 20, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, ForwardOnly: true}
	wt := winoFor(&s, winoOpForward)
	if wt == nil {
		t.Fatalf("%s: no Winograd for %+v", Path(), s)
	}
	x, w, bias := randSlice(r, s.N*s.C*s.H*s.W), randSlice(r, s.K*s.C*9), randSlice(r, s.K)
	got := make([]float32, s.N*s.K*s.H*s.W)
	Conv2d(s, got, x, w, bias)
	ref := make([]float32, len(got))
	withWinoTile(t, wt, func() { Conv2d(s, ref, x, w, bias) })
	if i, ok := sameBits(got, ref); !ok {
		t.Errorf("%s: forward-only Conv2d differs from %s at %d: %v vs %v", Path(), tileName(wt), i, got[i], ref[i])
	}
}

func tileName(t *winoTile) string {
	if t == nil {
		return "im2col"
	}
	return fmt.Sprintf("F(%d×%d)", t.m, t.m)
}
