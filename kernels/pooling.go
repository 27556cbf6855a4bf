package kernels

import (
	"fmt"
	"math"

	"github.com/vmdls-go/vmdls/parallel"
)

// PoolShape describes 2-D max or average pooling over NCHW data: windows of
// KH×KW moved by SH, SW over the input padded by PH, PW on each side (floor
// mode: a window never starts in the right or bottom padding).
// CountIncludePad selects PyTorch's average-pool divisor: the window size
// clipped to the padded input (true, PyTorch's default) or the number of
// real input elements in the window (false). Max pooling ignores it.
type PoolShape struct {
	N, C, H, W      int
	KH, KW          int
	SH, SW, PH, PW  int
	CountIncludePad bool
}

// OutH is the output height, floor((H + 2PH - KH) / SH) + 1.
func (s PoolShape) OutH() int { return (s.H+2*s.PH-s.KH)/s.SH + 1 }

// OutW is the output width, floor((W + 2PW - KW) / SW) + 1.
func (s PoolShape) OutW() int { return (s.W+2*s.PW-s.KW)/s.SW + 1 }

func (s *PoolShape) check(op string, args ...convArg) {
	if s.N < 0 || s.C < 0 || s.H < 0 || s.W < 0 || s.KH < 1 || s.KW < 1 || s.SH < 1 || s.SW < 1 ||
		s.PH < 0 || s.PW < 0 || 2*s.PH > s.KH || 2*s.PW > s.KW {
		panic(fmt.Sprintf("kernels.%s: invalid shape %+v (padding may be at most half the window)", op, *s))
	}
	if s.OutH() < 1 || s.OutW() < 1 {
		panic(fmt.Sprintf("kernels.%s: %dx%d window does not fit the padded %dx%d input", op, s.KH, s.KW, s.H+2*s.PH, s.W+2*s.PW))
	}
	for _, a := range args {
		if len(a.v) != a.n {
			panic(fmt.Sprintf("kernels.%s: len(%s) = %d, want %d for %+v", op, a.name, len(a.v), a.n, *s))
		}
	}
}

// MaxPool2d sets each element of y (N×C×OH×OW) to the maximum of its window
// of x and idx to that maximum's position h*W+w within its input plane, as
// PyTorch's max_pool2d with return_indices. Padding never wins; the first
// maximum in row-major window order wins ties, and a NaN wins over
// everything (the last NaN, as PyTorch's CPU kernel), so NaN propagates.
//
// The index type is int32, or float32 for callers that keep indices in
// float32 storage (exact up to 2^24, which MaxPool2d checks).
func MaxPool2d[I int32 | float32](s PoolShape, y []float32, idx []I, x []float32) {
	oh, ow := s.OutH(), s.OutW()
	s.check("MaxPool2d", convArg{"y", y, s.N * s.C * oh * ow}, convArg{"x", x, s.N * s.C * s.H * s.W})
	if len(idx) != len(y) {
		panic(fmt.Sprintf("kernels.MaxPool2d: len(idx) = %d, want %d", len(idx), len(y)))
	}
	if s.H*s.W > 1<<24 {
		panic("kernels.MaxPool2d: input plane too large for exact indices")
	}
	ihw, ohw := s.H*s.W, oh*ow
	pair := maxPoolPairs && s.KH == 2 && s.KW == 2 && s.SH == 2 && s.SW == 2 && s.PH == 0 && s.PW == 0
	parallel.For(s.N*s.C, max(1, planeGrain/max(1, ihw)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := x[p*ihw : (p+1)*ihw]
			yo, io := y[p*ohw:(p+1)*ohw], idx[p*ohw:(p+1)*ohw]
			if pair {
				maxPool2x2(yo, io, plane, s.W, oh, ow)
				continue
			}
			for oy := 0; oy < oh; oy++ {
				y0 := oy*s.SH - s.PH
				y1 := min(y0+s.KH, s.H)
				y0 = max(y0, 0)
				for ox := 0; ox < ow; ox++ {
					x0 := ox*s.SW - s.PW
					x1 := min(x0+s.KW, s.W)
					x0 = max(x0, 0)
					best := float32(math.Inf(-1))
					bi := y0*s.W + x0
					for iy := y0; iy < y1; iy++ {
						row := plane[iy*s.W : iy*s.W+x1]
						for ix := x0; ix < x1; ix++ {
							v := row[ix]
							if v > best || v != v {
								best, bi = v, iy*s.W+ix
							}
						}
					}
					yo[oy*ow+ox] = best
					io[oy*ow+ox] = I(bi)
				}
			}
		}
	})
}

// MaxPool2dBackward sets dx (N×C×H×W) to the gradient of MaxPool2d: each
// element of dy is added to the input position idx recorded for it.
// An index outside the plane panics.
func MaxPool2dBackward[I int32 | float32](s PoolShape, dx, dy []float32, idx []I) {
	oh, ow := s.OutH(), s.OutW()
	s.check("MaxPool2dBackward", convArg{"dx", dx, s.N * s.C * s.H * s.W}, convArg{"dy", dy, s.N * s.C * oh * ow})
	if len(idx) != len(dy) {
		panic(fmt.Sprintf("kernels.MaxPool2dBackward: len(idx) = %d, want %d", len(idx), len(dy)))
	}
	ihw, ohw := s.H*s.W, oh*ow
	parallel.For(s.N*s.C, max(1, planeGrain/max(1, ihw)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := dx[p*ihw : (p+1)*ihw]
			clear(plane)
			g, io := dy[p*ohw:(p+1)*ohw], idx[p*ohw:(p+1)*ohw]
			for i, v := range g {
				plane[int(io[i])] += v
			}
		}
	})
}

// avgWindow returns the clipped window [y0,y1)×[x0,x1) of output (oy, ox)
// and the divisor PyTorch uses for it.
func (s *PoolShape) avgWindow(oy, ox int) (y0, y1, x0, x1 int, div float32) {
	y0, x0 = oy*s.SH-s.PH, ox*s.SW-s.PW
	y1, x1 = min(y0+s.KH, s.H+s.PH), min(x0+s.KW, s.W+s.PW)
	padded := (y1 - y0) * (x1 - x0)
	y0, x0 = max(y0, 0), max(x0, 0)
	y1, x1 = min(y1, s.H), min(x1, s.W)
	if s.CountIncludePad {
		return y0, y1, x0, x1, float32(padded)
	}
	return y0, y1, x0, x1, float32((y1 - y0) * (x1 - x0))
}

// AvgPool2d sets each element of y to the mean of its window of x, with
// PyTorch's avg_pool2d divisor (see PoolShape.CountIncludePad).
func AvgPool2d(s PoolShape, y, x []float32) {
	oh, ow := s.OutH(), s.OutW()
	s.check("AvgPool2d", convArg{"y", y, s.N * s.C * oh * ow}, convArg{"x", x, s.N * s.C * s.H * s.W})
	ihw, ohw := s.H*s.W, oh*ow
	parallel.For(s.N*s.C, max(1, planeGrain/max(1, ihw)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := x[p*ihw : (p+1)*ihw]
			yo := y[p*ohw : (p+1)*ohw]
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					y0, y1, x0, x1, div := s.avgWindow(oy, ox)
					var sum float32
					for iy := y0; iy < y1; iy++ {
						for _, v := range plane[iy*s.W+x0 : iy*s.W+x1] {
							sum += v
						}
					}
					yo[oy*ow+ox] = sum / div
				}
			}
		}
	})
}

// AvgPool2dBackward sets dx to the gradient of AvgPool2d: each element of dy,
// divided by its window's divisor, is added to every input of the window.
func AvgPool2dBackward(s PoolShape, dx, dy []float32) {
	oh, ow := s.OutH(), s.OutW()
	s.check("AvgPool2dBackward", convArg{"dx", dx, s.N * s.C * s.H * s.W}, convArg{"dy", dy, s.N * s.C * oh * ow})
	ihw, ohw := s.H*s.W, oh*ow
	parallel.For(s.N*s.C, max(1, planeGrain/max(1, ihw)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := dx[p*ihw : (p+1)*ihw]
			clear(plane)
			g := dy[p*ohw : (p+1)*ohw]
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					y0, y1, x0, x1, div := s.avgWindow(oy, ox)
					v := g[oy*ow+ox] / div
					for iy := y0; iy < y1; iy++ {
						row := plane[iy*s.W+x0 : iy*s.W+x1]
						for i := range row {
							row[i] += v
						}
					}
				}
			}
		}
	})
}

// maxPool2x2 is MaxPool2d's common 2×2, stride 2, unpadded case for one
// plane, with the four candidates compared in the general loop's order (so
// ties and NaNs resolve the same way) and no per-window bounds. (A
// branch-free variant with bit masks measured no faster.)
func maxPool2x2[I int32 | float32](yo []float32, io []I, plane []float32, w, oh, ow int) {
	for oy := 0; oy < oh; oy++ {
		r0 := plane[2*oy*w : 2*oy*w+2*ow]
		r1 := plane[(2*oy+1)*w : (2*oy+1)*w+2*ow]
		yr, ir := yo[oy*ow:oy*ow+ow], io[oy*ow:oy*ow+ow]
		base := 2 * oy * w
		for ox := range yr {
			a, b, c, d := r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1]
			best, bi := a, base+2*ox
			if b > best || b != b {
				best, bi = b, base+2*ox+1
			}
			if c > best || c != c {
				best, bi = c, base+w+2*ox
			}
			if d > best || d != d {
				best, bi = d, base+w+2*ox+1
			}
			yr[ox], ir[ox] = best, I(bi)
		}
	}
}

// maxPoolPairs enables the 2×2 fast path (tests and benchmarks compare).
var maxPoolPairs = true
