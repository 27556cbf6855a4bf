package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveConv is the definition of the convolution in float64: the oracle for
// Conv2d and, through its adjoints, for Conv2dBackward.
func naiveConv(s ConvShape, x, w, bias []float32) []float64 {
	oh, ow := s.OutH(), s.OutW()
	y := make([]float64, s.N*s.K*oh*ow)
	for n := 0; n < s.N; n++ {
		for k := 0; k < s.K; k++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var acc float64
					if bias != nil {
						acc = float64(bias[k])
					}
					for c := 0; c < s.C; c++ {
						for i := 0; i < s.KH; i++ {
							for j := 0; j < s.KW; j++ {
								iy, ix := oy*s.SH-s.PH+i, ox*s.SW-s.PW+j
								if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
									continue
								}
								acc += float64(x[((n*s.C+c)*s.H+iy)*s.W+ix]) * float64(w[((k*s.C+c)*s.KH+i)*s.KW+j])
							}
						}
					}
					y[((n*s.K+k)*oh+oy)*ow+ox] = acc
				}
			}
		}
	}
	return y
}

// naiveConvBackward returns dx, dw, db in float64 by the same loops.
func naiveConvBackward(s ConvShape, dy, x, w []float32) (dx, dw, db []float64) {
	oh, ow := s.OutH(), s.OutW()
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	db = make([]float64, s.K)
	for n := 0; n < s.N; n++ {
		for k := 0; k < s.K; k++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					g := float64(dy[((n*s.K+k)*oh+oy)*ow+ox])
					db[k] += g
					for c := 0; c < s.C; c++ {
						for i := 0; i < s.KH; i++ {
							for j := 0; j < s.KW; j++ {
								iy, ix := oy*s.SH-s.PH+i, ox*s.SW-s.PW+j
								if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
									continue
								}
								xi := ((n*s.C+c)*s.H+iy)*s.W + ix
								wi := ((k*s.C+c)*s.KH+i)*s.KW + j
								dx[xi] += g * float64(w[wi])
								dw[wi] += g * float64(x[xi])
							}
						}
					}
				}
			}
		}
	}
	return dx, dw, db
}

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// normErr is max|got-want| / max|want| (0 when both are 0).
func normErr(got []float32, want []float64) float64 {
	var e, m float64
	for i := range want {
		e = math.Max(e, math.Abs(float64(got[i])-want[i]))
		m = math.Max(m, math.Abs(want[i]))
	}
	if m == 0 {
		return e
	}
	return e / m
}

var convCases = []ConvShape{
	{N: 1, C: 1, H: 5, W: 5, K: 1, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1},
	{N: 2, C: 3, H: 7, W: 6, K: 4, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1},
	{N: 3, C: 2, H: 6, W: 9, K: 5, KH: 2, KW: 3, SH: 1, SW: 2, PH: 0, PW: 1},
	{N: 2, C: 4, H: 5, W: 5, K: 3, KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0},
	{N: 3, C: 4, H: 8, W: 8, K: 6, KH: 1, KW: 1, SH: 2, SW: 2, PH: 0, PW: 0},
	{N: 5, C: 3, H: 4, W: 4, K: 7, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1},
	{N: 2, C: 2, H: 3, W: 4, K: 2, KH: 5, KW: 5, SH: 1, SW: 3, PH: 2, PW: 2},
	{N: 1, C: 3, H: 10, W: 7, K: 2, KH: 4, KW: 2, SH: 3, SW: 1, PH: 1, PW: 0},
	{N: 4, C: 0, H: 3, W: 3, K: 2, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1},
	// Stride 1, width kept: the whole-plane shift path.
	{N: 2, C: 2, H: 6, W: 5, K: 3, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2},
	{N: 3, C: 2, H: 5, W: 7, K: 2, KH: 3, KW: 5, SH: 1, SW: 1, PH: 0, PW: 2},
	{N: 1, C: 3, H: 2, W: 3, K: 2, KH: 5, KW: 3, SH: 1, SW: 1, PH: 2, PW: 1},
}

// withGrouping runs f with several group sizes forced (1 image, a few, all),
// so both the direct and the gathered paths are covered on small shapes.
// It also switches between the per-worker and shared forward schedules and
// the two weight-gradient formulations.
func withGrouping(t *testing.T, f func(t *testing.T)) {
	defer func(a, b int, pw, tr bool) {
		convMinCols, convColBudget, convPerWorker, convDWTransposed = a, b, pw, tr
	}(convMinCols, convColBudget, convPerWorker, convDWTransposed)
	for _, g := range []struct{ cols, budget int }{{1, 1 << 22}, {40, 1 << 22}, {1 << 20, 1 << 22}, {1 << 20, 300}} {
		for alt := range 4 {
			convMinCols, convColBudget = g.cols, g.budget
			convPerWorker, convDWTransposed = alt&1 != 0, alt&2 != 0
			t.Run(fmt.Sprintf("cols%d_budget%d_perworker%v_transdw%v", g.cols, g.budget, convPerWorker, convDWTransposed), f)
		}
	}
}

func TestConv2dMatchesDefinition(t *testing.T) {
	withGrouping(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, s := range convCases {
			oh, ow := s.OutH(), s.OutW()
			x := randSlice(r, s.N*s.C*s.H*s.W)
			w := randSlice(r, s.K*s.C*s.KH*s.KW)
			bias := randSlice(r, s.K)
			dy := randSlice(r, s.N*s.K*oh*ow)
			for _, withBias := range []bool{false, true} {
				b := bias
				if !withBias {
					b = nil
				}
				y := randSlice(r, len(dy)) // garbage in y must not leak through
				Conv2d(s, y, x, w, b)
				want := naiveConv(s, x, w, b)
				if e := normErr(y, want); e > 1e-6 {
					t.Errorf("%+v bias=%v: forward error %.3g", s, withBias, e)
				}
				// The fused ReLU gives exactly max(y, 0).
				sr := s
				sr.ReLU = true
				yr := randSlice(r, len(dy))
				Conv2d(sr, yr, x, w, b)
				for i := range yr {
					if yr[i] != max(y[i], 0) {
						t.Fatalf("%+v: fused relu %v at %d, want max(%v, 0)", s, yr[i], i, y[i])
					}
				}
			}
			dx, dw, db := randSlice(r, len(x)), randSlice(r, len(w)), randSlice(r, s.K)
			Conv2dBackward(s, dx, dw, db, dy, x, w)
			rx, rw, rb := naiveConvBackward(s, dy, x, w)
			for _, c := range []struct {
				name string
				got  []float32
				want []float64
			}{{"dx", dx, rx}, {"dw", dw, rw}, {"db", db, rb}} {
				if e := normErr(c.got, c.want); e > 1e-6 {
					t.Errorf("%+v: %s error %.3g", s, c.name, e)
				}
			}
			// Each gradient alone gives the same values.
			dx2 := make([]float32, len(x))
			Conv2dBackward(s, dx2, nil, nil, dy, nil, w)
			dw2 := make([]float32, len(w))
			Conv2dBackward(s, nil, dw2, nil, dy, x, nil)
			for i := range dx2 {
				if dx2[i] != dx[i] {
					t.Fatalf("%+v: dx alone differs at %d", s, i)
				}
			}
			for i := range dw2 {
				if dw2[i] != dw[i] {
					t.Fatalf("%+v: dw alone differs at %d", s, i)
				}
			}
		}
	})
}

func TestIm2colCol2imAdjoint(t *testing.T) {
	// <im2col(x), c> == <x, col2im(c)> for random x and c.
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range convCases {
		if s.C == 0 {
			continue
		}
		s.N = 1
		hw := s.OutH() * s.OutW()
		ld := hw + 3 // a wider matrix than the image, as in grouped calls
		x := randSlice(r, s.C*s.H*s.W)
		c := randSlice(r, s.C*s.KH*s.KW*ld)
		col := make([]float32, len(c))
		Im2col(s, col, ld, x, 0)
		back := make([]float32, len(x))
		Col2im(s, back, 0, c, ld)
		var a, b float64
		for row := 0; row < s.C*s.KH*s.KW; row++ {
			for j := 0; j < hw; j++ {
				a += float64(col[row*ld+j]) * float64(c[row*ld+j])
			}
		}
		for i := range x {
			b += float64(x[i]) * float64(back[i])
		}
		if math.Abs(a-b) > 1e-4*math.Max(1, math.Abs(a)) {
			t.Errorf("%+v: <im2col x, c> = %g, <x, col2im c> = %g", s, a, b)
		}
	}
}

func TestConv2dPanicsOnBadLengths(t *testing.T) {
	s := ConvShape{N: 1, C: 1, H: 3, W: 3, K: 1, KH: 3, KW: 3, SH: 1, SW: 1}
	for name, f := range map[string]func(){
		"short y":      func() { Conv2d(s, make([]float32, 2), make([]float32, 9), make([]float32, 9), nil) },
		"short x":      func() { Conv2d(s, make([]float32, 1), make([]float32, 8), make([]float32, 9), nil) },
		"filter large": func() { s2 := s; s2.KH = 4; Conv2d(s2, nil, make([]float32, 9), make([]float32, 12), nil) },
		"zero stride": func() {
			s2 := s
			s2.SH = 0
			Conv2d(s2, make([]float32, 1), make([]float32, 9), make([]float32, 9), nil)
		},
		"dx without w": func() { Conv2dBackward(s, make([]float32, 9), nil, nil, make([]float32, 1), nil, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestConvScratchReused(t *testing.T) {
	s := ConvShape{N: 8, C: 16, H: 12, W: 12, K: 16, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}
	r := rand.New(rand.NewPCG(5, 6))
	x, w := randSlice(r, s.N*s.C*s.H*s.W), randSlice(r, s.K*s.C*9)
	y := make([]float32, s.N*s.K*s.OutH()*s.OutW())
	dx, dw := make([]float32, len(x)), make([]float32, len(w))
	Conv2d(s, y, x, w, nil)
	Conv2dBackward(s, dx, dw, nil, y, x, w)
	// Small closures for the pool remain; the large buffers must not.
	allocs := testing.AllocsPerRun(5, func() {
		Conv2d(s, y, x, w, nil)
		Conv2dBackward(s, dx, dw, nil, y, x, w)
	})
	if allocs > 16 {
		t.Errorf("forward+backward allocated %v times per call", allocs)
	}
}
