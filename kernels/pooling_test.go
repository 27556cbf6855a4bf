package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

var poolCases = []PoolShape{
	{N: 2, C: 3, H: 6, W: 6, KH: 2, KW: 2, SH: 2, SW: 2},
	{N: 1, C: 2, H: 7, W: 5, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1},
	{N: 2, C: 1, H: 5, W: 8, KH: 3, KW: 2, SH: 1, SW: 2, PH: 1, PW: 1},
	{N: 1, C: 2, H: 4, W: 4, KH: 4, KW: 4, SH: 1, SW: 1, PH: 2, PW: 2},
	{N: 3, C: 2, H: 9, W: 3, KH: 3, KW: 1, SH: 3, SW: 1},
	{N: 2, C: 2, H: 7, W: 5, KH: 2, KW: 2, SH: 2, SW: 2}, // 2x2 fast path, odd sizes
}

// naiveMaxPool is the definition: scan the window, keep the first maximum.
func naiveMaxPool(s PoolShape, x []float32) ([]float32, []int32) {
	oh, ow := s.OutH(), s.OutW()
	y := make([]float32, s.N*s.C*oh*ow)
	idx := make([]int32, len(y))
	for p := 0; p < s.N*s.C; p++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				best, bi := float32(math.Inf(-1)), -1
				for i := 0; i < s.KH; i++ {
					for j := 0; j < s.KW; j++ {
						iy, ix := oy*s.SH-s.PH+i, ox*s.SW-s.PW+j
						if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
							continue
						}
						if v := x[p*s.H*s.W+iy*s.W+ix]; bi < 0 || v > best {
							best, bi = v, iy*s.W+ix
						}
					}
				}
				y[(p*oh+oy)*ow+ox], idx[(p*oh+oy)*ow+ox] = best, int32(bi)
			}
		}
	}
	return y, idx
}

func naiveAvgPool(s PoolShape, x []float32) []float64 {
	oh, ow := s.OutH(), s.OutW()
	y := make([]float64, s.N*s.C*oh*ow)
	for p := 0; p < s.N*s.C; p++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				var sum float64
				inside, inPadded := 0, 0
				for i := 0; i < s.KH; i++ {
					for j := 0; j < s.KW; j++ {
						iy, ix := oy*s.SH-s.PH+i, ox*s.SW-s.PW+j
						if iy < s.H+s.PH && ix < s.W+s.PW {
							inPadded++
						}
						if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
							continue
						}
						inside++
						sum += float64(x[p*s.H*s.W+iy*s.W+ix])
					}
				}
				div := inside
				if s.CountIncludePad {
					div = inPadded
				}
				y[(p*oh+oy)*ow+ox] = sum / float64(div)
			}
		}
	}
	return y
}

func TestMaxPool2d(t *testing.T) {
	defer func() { maxPoolPairs = true }()
	for _, pairs := range []bool{true, false} {
		maxPoolPairs = pairs
		testMaxPool2d(t)
	}
}

func testMaxPool2d(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range poolCases {
		x := randSlice(r, s.N*s.C*s.H*s.W)
		// Plant ties so the first-maximum rule is exercised.
		for i := 0; i+1 < len(x); i += 5 {
			x[i+1] = x[i]
		}
		y := make([]float32, s.N*s.C*s.OutH()*s.OutW())
		idx := make([]int32, len(y))
		MaxPool2d(s, y, idx, x)
		wy, widx := naiveMaxPool(s, x)
		for i := range y {
			if y[i] != wy[i] || idx[i] != widx[i] {
				t.Fatalf("%+v: out %d = (%v, %d), want (%v, %d)", s, i, y[i], idx[i], wy[i], widx[i])
			}
		}
		dy := randSlice(r, len(y))
		dx := randSlice(r, len(x))
		MaxPool2dBackward(s, dx, dy, idx)
		want := make([]float64, len(x))
		for i, g := range dy {
			p := i / (s.OutH() * s.OutW())
			want[p*s.H*s.W+int(widx[i])] += float64(g)
		}
		if e := normErr(dx, want); e > 1e-6 {
			t.Errorf("%+v: backward error %g", s, e)
		}
	}
}

func TestMaxPool2dNaN(t *testing.T) {
	nan := float32(math.NaN())
	for _, s := range []PoolShape{
		{N: 1, C: 1, H: 2, W: 2, KH: 2, KW: 2, SH: 2, SW: 2}, // fast path
		{N: 1, C: 1, H: 2, W: 2, KH: 2, KW: 2, SH: 1, SW: 1}, // general loop
	} {
		for _, c := range []struct {
			x   []float32
			idx int32
		}{
			{[]float32{1, nan, 5, 2}, 1},
			{[]float32{nan, 3, 5, nan}, 3}, // the last NaN, as PyTorch's CPU kernel
			{[]float32{nan, 3, 5, 2}, 0},
		} {
			y, idx := make([]float32, 1), make([]int32, 1)
			MaxPool2d(s, y, idx, c.x)
			if y[0] == y[0] || idx[0] != c.idx {
				t.Errorf("stride %d, %v: got (%v, %d), want (NaN, %d)", s.SH, c.x, y[0], idx[0], c.idx)
			}
		}
	}
}

func TestAvgPool2d(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, s := range poolCases {
		for _, inc := range []bool{true, false} {
			s.CountIncludePad = inc
			x := randSlice(r, s.N*s.C*s.H*s.W)
			y := make([]float32, s.N*s.C*s.OutH()*s.OutW())
			AvgPool2d(s, y, x)
			if e := normErr(y, naiveAvgPool(s, x)); e > 1e-6 {
				t.Errorf("%+v: forward error %g", s, e)
			}
			// Backward is the adjoint: <avg(x), g> == <x, avg'(g)>.
			g := randSlice(r, len(y))
			dx := randSlice(r, len(x))
			AvgPool2dBackward(s, dx, g)
			ref := naiveAvgPool(s, x)
			var a, b float64
			for i := range g {
				a += ref[i] * float64(g[i])
			}
			for i := range x {
				b += float64(x[i]) * float64(dx[i])
			}
			if math.Abs(a-b) > 1e-5*math.Max(1, math.Abs(a)) {
				t.Errorf("%+v: <avg x, g> = %g but <x, avg' g> = %g", s, a, b)
			}
		}
	}
}
