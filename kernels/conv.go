package kernels

import (
	"fmt"
	"slices"
	"sync"

	"github.com/vmdls-go/vmdls/parallel"
)

// ConvShape describes a 2-D convolution (cross-correlation, as in PyTorch)
// over NCHW float32 data, with one group and no dilation: an input of N
// images of C channels of H×W, K filters of C×KH×KW, strides SH, SW and zero
// padding PH, PW on both sides.
//
// ReLU fuses max(·, 0) into Conv2d's output while it is still in cache
// (Conv2dBackward ignores it: the caller masks dy with the output first).
//
// ForwardOnly tells Conv2d that no gradient will be taken through this
// output (inference, or a pass under autograd.NoGrad): it may then use
// F(4×4, 3×3) Winograd where that is fastest, whose error (2e-6 normwise,
// against F(2×2)'s 5e-7) is harmless to a forward pass but not to
// gradients checked against PyTorch's (see the Accuracy paragraph of
// winograd.go). Conv2dBackward ignores it.
type ConvShape struct {
	N, C, H, W     int
	K, KH, KW      int
	SH, SW, PH, PW int
	ReLU           bool
	ForwardOnly    bool
}

// OutH is the output height, floor((H + 2PH - KH) / SH) + 1.
func (s ConvShape) OutH() int { return (s.H+2*s.PH-s.KH)/s.SH + 1 }

// OutW is the output width, floor((W + 2PW - KW) / SW) + 1.
func (s ConvShape) OutW() int { return (s.W+2*s.PW-s.KW)/s.SW + 1 }

// Convolution by im2col + SGEMM. Images are processed in groups: a group's
// inputs are unfolded side by side into one column matrix of C*KH*KW rows and
// g*OH*OW columns, so that the product with the K×(C*KH*KW) filter matrix
// stays wide enough for the GEMM to run near its peak even when the images
// are small (ResNet's 4×4 stage), while the column matrix stays bounded.
// Unfolding, scattering and folding back are split over the worker pool by
// (image, channel) plane; the GEMM splits itself.

// convMinCols is the number of GEMM columns a group aims for; below about
// this width the packed filter panel is reused too little.
var convMinCols = 1024

// convColBudget bounds a group's column matrix, in floats (8 MiB), which
// also bounds the scratch memory a call holds.
var convColBudget = 1 << 21

// planeGrain is the least number of elements a parallel.For chunk of plane
// work should touch to be worth a hand-off.
const planeGrain = 1 << 14

// group returns how many images to unfold together.
func (s *ConvShape) group(kdim, hw int) int {
	g := (convMinCols + hw - 1) / hw
	if lim := convColBudget / max(1, kdim*hw); g > lim {
		g = lim
	}
	g = max(1, min(g, s.N))
	// Even groups: 32 images under a limit of 28 make two groups of 16,
	// not 28 and a narrow 4.
	ngroups := (s.N + g - 1) / g
	return (s.N + ngroups - 1) / ngroups
}

// isPointwise reports whether the column matrix of an image is the image
// itself (1×1 filters, stride 1, no padding), so unfolding can be skipped.
func (s *ConvShape) isPointwise() bool {
	return s.KH == 1 && s.KW == 1 && s.SH == 1 && s.SW == 1 && s.PH == 0 && s.PW == 0
}

// check panics, naming the argument, unless the shape is valid and every
// slice has the length it implies (nil slices are allowed where the caller
// said so and are not checked).
func (s *ConvShape) check(op string, args ...convArg) {
	if s.N < 0 || s.C < 0 || s.H < 0 || s.W < 0 || s.K < 0 || s.KH < 1 || s.KW < 1 ||
		s.SH < 1 || s.SW < 1 || s.PH < 0 || s.PW < 0 {
		panic(fmt.Sprintf("kernels.%s: invalid shape %+v", op, *s))
	}
	if s.OutH() < 1 || s.OutW() < 1 {
		panic(fmt.Sprintf("kernels.%s: %dx%d filter does not fit the padded %dx%d input", op, s.KH, s.KW, s.H+2*s.PH, s.W+2*s.PW))
	}
	for _, a := range args {
		if a.v != nil && len(a.v) != a.n {
			panic(fmt.Sprintf("kernels.%s: len(%s) = %d, want %d for %+v", op, a.name, len(a.v), a.n, *s))
		}
	}
}

type convArg = struct {
	name string
	v    []float32
	n    int
}

// unfoldGroup writes the column matrix of images n0..n0+gn-1 into col,
// image b's columns starting at b*hw in rows of length ld = gn*hw.
func (s *ConvShape) unfoldGroup(col, x []float32, n0, gn, oh, ow int) {
	hw, ihw, kk := oh*ow, s.H*s.W, s.KH*s.KW
	ld := gn * hw
	parallel.For(gn*s.C, max(1, planeGrain/(kk*hw)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			b, c := t/s.C, t%s.C
			plane := x[((n0+b)*s.C+c)*ihw : ((n0+b)*s.C+c+1)*ihw]
			im2colPlane(col[c*kk*ld+b*hw:], ld, plane, s, oh, ow)
		}
	})
}

// foldGroup sets images n0..n0+gn-1 of dx to the fold (col2im) of col.
func (s *ConvShape) foldGroup(dx, col []float32, n0, gn, oh, ow int) {
	hw, ihw, kk := oh*ow, s.H*s.W, s.KH*s.KW
	ld := gn * hw
	parallel.For(gn*s.C, max(1, planeGrain/(kk*hw)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			b, c := t/s.C, t%s.C
			plane := dx[((n0+b)*s.C+c)*ihw : ((n0+b)*s.C+c+1)*ihw]
			clear(plane)
			col2imPlane(plane, col[c*kk*ld+b*hw:], ld, s, oh, ow)
		}
	})
}

// Conv2d computes y = conv(x, w) + bias for x N×C×H×W, w K×C×KH×KW, bias K
// (nil for none) and y N×K×OH×OW, as PyTorch's conv2d with groups=1, then
// max(y, 0) when s.ReLU is set. It
// panics, naming the slice, when a length does not match the shape. Work is
// split over parallel.Threads() workers; it may be called from several
// goroutines at once.
func Conv2d(s ConvShape, y, x, w, bias []float32) {
	oh, ow := s.OutH(), s.OutW()
	s.check("Conv2d", convArg{"y", y, s.N * s.K * oh * ow}, convArg{"x", x, s.N * s.C * s.H * s.W},
		convArg{"w", w, s.K * s.C * s.KH * s.KW}, convArg{"bias", bias, s.K})
	if y == nil || x == nil || w == nil {
		panic("kernels.Conv2d: y, x and w are required")
	}
	hw, kdim := oh*ow, s.C*s.KH*s.KW
	if len(y) == 0 {
		return
	}
	if kdim == 0 { // no input channels: the output is the bias
		for i := range y {
			y[i] = 0
			if bias != nil {
				y[i] = bias[(i/hw)%s.K]
			}
			if s.ReLU && y[i] < 0 {
				y[i] = 0
			}
		}
		return
	}
	if t := winoFor(&s, winoOpForward); t != nil {
		winoForward(t, s, y, x, w, bias)
		return
	}
	g := s.group(kdim, hw)
	direct := s.isPointwise()
	if convPerWorker && (s.N+g-1)/g >= 2*parallel.Threads() {
		s.forwardPerWorker(y, x, w, bias, g, oh, ow)
		return
	}
	var col, tmp []float32
	if !direct || g > 1 {
		col = getScratch(kdim * g * hw)
		defer putScratch(col)
	}
	if g > 1 {
		tmp = getScratch(s.K * g * hw)
		defer putScratch(tmp)
	}
	for n0 := 0; n0 < s.N; n0 += g {
		gn := min(g, s.N-n0)
		ncols := gn * hw
		b := col
		if direct && gn == 1 {
			b = x[n0*s.C*hw : (n0+1)*s.C*hw]
		} else {
			s.unfoldGroup(col, x, n0, gn, oh, ow)
		}
		if gn == 1 {
			s.forwardImage(y[n0*s.K*hw:(n0+1)*s.K*hw], w, b, bias, hw, kdim)
			continue
		}
		Sgemm(false, false, s.K, ncols, kdim, 1, w, kdim, b, ncols, 0, tmp, ncols)
		// Scatter the K×(gn*hw) product into the gn images, adding the bias.
		parallel.For(gn*s.K, max(1, planeGrain/hw), func(lo, hi int) {
			for t := lo; t < hi; t++ {
				s.scatterPlane(y, tmp, bias, n0, t/s.K, t%s.K, hw, ncols)
			}
		})
	}
}

// Conv2dBackward computes the gradients of Conv2d from dy (N×K×OH×OW): dx
// (N×C×H×W) needs w, dw (K×C×KH×KW) needs x, db (K) needs only dy. Pass nil
// for a gradient that is not wanted (and for x or w when nothing needs
// them). Each wanted gradient is overwritten, not accumulated into. Bias
// sums are accumulated in float64.
func Conv2dBackward(s ConvShape, dx, dw, db, dy, x, w []float32) {
	oh, ow := s.OutH(), s.OutW()
	s.check("Conv2dBackward", convArg{"dx", dx, s.N * s.C * s.H * s.W}, convArg{"dw", dw, s.K * s.C * s.KH * s.KW},
		convArg{"db", db, s.K}, convArg{"dy", dy, s.N * s.K * oh * ow}, convArg{"x", x, s.N * s.C * s.H * s.W},
		convArg{"w", w, s.K * s.C * s.KH * s.KW})
	if dy == nil || (dx != nil && w == nil) || (dw != nil && x == nil) {
		panic("kernels.Conv2dBackward: dy is required, and w for dx, x for dw")
	}
	hw, kdim := oh*ow, s.C*s.KH*s.KW
	if db != nil {
		parallel.For(s.K, max(1, planeGrain/max(1, s.N*hw)), func(lo, hi int) {
			for k := lo; k < hi; k++ {
				var sum float64
				for n := 0; n < s.N; n++ {
					sum += Sum64(dy[(n*s.K+k)*hw : (n*s.K+k+1)*hw])
				}
				db[k] = float32(sum)
			}
		})
	}
	if dx == nil && dw == nil {
		return
	}
	if s.N == 0 || hw == 0 || s.K == 0 || kdim == 0 {
		clear(dx)
		clear(dw)
		return
	}
	if dx != nil {
		if t := winoFor(&s, winoOpInputGrad); t != nil {
			winoInputGrad(t, s, dx, dy, w)
			dx = nil
		}
	}
	if dw != nil && winoFor(&s, winoOpWeightGrad) != nil {
		winoWeightGrad(s, dw, dy, x)
		dw = nil
	}
	if dx == nil && dw == nil {
		return
	}
	g := s.group(kdim, hw)
	direct := s.isPointwise()
	transDW := convDWTransposed && s.K < convDWTransposedMaxK
	if convPerWorker && (s.N+g-1)/g >= 2*parallel.Threads() {
		s.backwardPerWorker(dx, dw, dy, x, w, g, oh, ow, transDW)
		return
	}
	col := getScratch(kdim * g * hw)
	defer putScratch(col)
	var dyg []float32
	if g > 1 {
		dyg = getScratch(s.K * g * hw)
		defer putScratch(dyg)
	}
	var dwt []float32
	if dw != nil && transDW {
		dwt = getScratch(kdim * s.K)
		defer putScratch(dwt)
		defer func() {
			for k := 0; k < s.K; k++ {
				row := dw[k*kdim : (k+1)*kdim]
				for i := range row {
					row[i] = dwt[i*s.K+k]
				}
			}
		}()
	}
	first := true
	for n0 := 0; n0 < s.N; n0 += g {
		gn := min(g, s.N-n0)
		ncols := gn * hw
		d := dyg
		if gn == 1 {
			d = dy[n0*s.K*hw : (n0+1)*s.K*hw]
		} else {
			// Gather the group's output gradients side by side, K×(gn*hw).
			parallel.For(gn*s.K, max(1, planeGrain/hw), func(lo, hi int) {
				for t := lo; t < hi; t++ {
					bi, k := t/s.K, t%s.K
					copy(dyg[k*ncols+bi*hw:k*ncols+(bi+1)*hw], dy[((n0+bi)*s.K+k)*hw:((n0+bi)*s.K+k+1)*hw])
				}
			})
		}
		if dw != nil {
			b := col
			if direct && gn == 1 {
				b = x[n0*s.C*hw : (n0+1)*s.C*hw]
			} else {
				s.unfoldGroup(col, x, n0, gn, oh, ow)
			}
			dst := dw
			if transDW {
				dst = dwt
			}
			s.weightGradGemm(transDW, first, b, d, ncols, dst)
			first = false
		}
		if dx != nil {
			if direct && gn == 1 {
				Sgemm(true, false, kdim, ncols, s.K, 1, w, kdim, d, ncols, 0, dx[n0*s.C*hw:(n0+1)*s.C*hw], ncols)
				continue
			}
			Sgemm(true, false, kdim, ncols, s.K, 1, w, kdim, d, ncols, 0, col, ncols)
			s.foldGroup(dx, col, n0, gn, oh, ow)
		}
	}
}

// convPerWorker selects the schedule of batches with enough image groups to
// give each worker several: every worker unfolds its own groups and
// multiplies them (the GEMM nested in the worker then runs on it), so the
// column matrix is consumed by the core that wrote it and there is one
// fork-join per call instead of three per group.
var convPerWorker = true

func (s *ConvShape) forwardPerWorker(y, x, w, bias []float32, g, oh, ow int) {
	hw, kdim := oh*ow, s.C*s.KH*s.KW
	ihw := s.H * s.W
	kk := s.KH * s.KW
	ngroups := (s.N + g - 1) / g
	direct := s.isPointwise()
	parallel.For(ngroups, 1, func(lo, hi int) {
		col := getScratch(kdim * g * hw)
		defer putScratch(col)
		var tmp []float32
		if g > 1 {
			tmp = getScratch(s.K * g * hw)
			defer putScratch(tmp)
		}
		for gi := lo; gi < hi; gi++ {
			n0 := gi * g
			gn := min(g, s.N-n0)
			ncols := gn * hw
			b := col
			if direct && gn == 1 {
				b = x[n0*s.C*hw : (n0+1)*s.C*hw]
			} else {
				for bi := 0; bi < gn; bi++ {
					for c := 0; c < s.C; c++ {
						plane := x[((n0+bi)*s.C+c)*ihw : ((n0+bi)*s.C+c+1)*ihw]
						im2colPlane(col[c*kk*ncols+bi*hw:], ncols, plane, s, oh, ow)
					}
				}
			}
			if gn == 1 {
				s.forwardImage(y[n0*s.K*hw:(n0+1)*s.K*hw], w, b, bias, hw, kdim)
				continue
			}
			Sgemm(false, false, s.K, ncols, kdim, 1, w, kdim, b, ncols, 0, tmp, ncols)
			for bi := 0; bi < gn; bi++ {
				for k := 0; k < s.K; k++ {
					s.scatterPlane(y, tmp, bias, n0, bi, k, hw, ncols)
				}
			}
		}
	})
}

// forwardImage is one image's output out (K×hw) as one product of the
// filters w with its unfolded input b (kdim×hw): the bias written first and
// the product added onto it, then the fused ReLU.
func (s *ConvShape) forwardImage(out, w, b, bias []float32, hw, kdim int) {
	var beta float32
	if bias != nil {
		for k, v := range bias {
			Fill(out[k*hw:(k+1)*hw], v)
		}
		beta = 1
	}
	Sgemm(false, false, s.K, hw, kdim, 1, w, kdim, b, hw, beta, out, hw)
	if s.ReLU {
		Relu(out, out)
	}
}

// scatterPlane copies plane k of image bi of a group's product tmp
// (K×ncols, the group's images side by side) into y, image n0+bi, adding
// the bias and applying the fused ReLU.
func (s *ConvShape) scatterPlane(y, tmp, bias []float32, n0, bi, k, hw, ncols int) {
	dst := y[((n0+bi)*s.K+k)*hw : ((n0+bi)*s.K+k+1)*hw]
	src := tmp[k*ncols+bi*hw : k*ncols+(bi+1)*hw]
	if bias != nil {
		AddScalar(dst, bias[k], src)
	} else {
		copy(dst, src)
	}
	if s.ReLU {
		Relu(dst, dst)
	}
}

// convDWTransposed computes the weight gradient as its transpose (see
// Conv2dBackward) for layers of fewer than convDWTransposedMaxK filters:
// there the direct product has too few rows (K) for the GEMM's blocking,
// while with 512 filters the direct form was faster (BenchmarkConv2dBackwardDW,
// medians of interleaved runs on a loaded 2-core machine, so rough).
var convDWTransposed = true

const convDWTransposedMaxK = 256

// weightGradGemm adds one image group's weight gradient dy·colᵀ (col is
// the unfolded input b, ncols columns) into dst, overwriting it when first.
// With transDW it computes dWᵀ = col·dyᵀ into a [kdim, K] dst instead: the
// large column matrix is then the GEMM's untransposed A and the small dy the
// transposed B; the caller transposes dWᵀ into dw at the end.
func (s *ConvShape) weightGradGemm(transDW, first bool, b, d []float32, ncols int, dst []float32) {
	kdim := s.C * s.KH * s.KW
	var beta float32 = 1
	if first {
		beta = 0
	}
	if transDW {
		Sgemm(false, true, kdim, s.K, ncols, 1, b, ncols, d, ncols, beta, dst, s.K)
	} else {
		Sgemm(false, true, s.K, kdim, ncols, 1, d, ncols, b, ncols, beta, dst, kdim)
	}
}

// backwardPerWorker is Conv2dBackward with the per-worker schedule: each
// worker takes a contiguous run of image groups, unfolds, multiplies and
// folds them itself, and accumulates a private weight gradient; the
// private gradients are added in the order of their runs, so the result
// depends on the number of workers but not on timing.
func (s *ConvShape) backwardPerWorker(dx, dw, dy, x, w []float32, g, oh, ow int, transDW bool) {
	hw, kdim := oh*ow, s.C*s.KH*s.KW
	ihw, kk := s.H*s.W, s.KH*s.KW
	ngroups := (s.N + g - 1) / g
	direct := s.isPointwise()
	type partial struct {
		lo  int
		buf []float32
	}
	var (
		mu    sync.Mutex
		parts []partial
	)
	parallel.For(ngroups, 1, func(lo, hi int) {
		col := getScratch(kdim * g * hw)
		defer putScratch(col)
		var dyg, pdw []float32
		if g > 1 {
			dyg = getScratch(s.K * g * hw)
			defer putScratch(dyg)
		}
		if dw != nil {
			pdw = getScratch(kdim * s.K)
		}
		first := true
		for gi := lo; gi < hi; gi++ {
			n0 := gi * g
			gn := min(g, s.N-n0)
			ncols := gn * hw
			d := dyg
			if gn == 1 {
				d = dy[n0*s.K*hw : (n0+1)*s.K*hw]
			} else {
				for bi := 0; bi < gn; bi++ {
					for k := 0; k < s.K; k++ {
						copy(dyg[k*ncols+bi*hw:k*ncols+(bi+1)*hw], dy[((n0+bi)*s.K+k)*hw:((n0+bi)*s.K+k+1)*hw])
					}
				}
			}
			if dw != nil {
				b := col
				if direct && gn == 1 {
					b = x[n0*s.C*hw : (n0+1)*s.C*hw]
				} else {
					for bi := 0; bi < gn; bi++ {
						for c := 0; c < s.C; c++ {
							plane := x[((n0+bi)*s.C+c)*ihw : ((n0+bi)*s.C+c+1)*ihw]
							im2colPlane(col[c*kk*ncols+bi*hw:], ncols, plane, s, oh, ow)
						}
					}
				}
				s.weightGradGemm(transDW, first, b, d, ncols, pdw)
				first = false
			}
			if dx != nil {
				if direct && gn == 1 {
					Sgemm(true, false, kdim, ncols, s.K, 1, w, kdim, d, ncols, 0, dx[n0*s.C*hw:(n0+1)*s.C*hw], ncols)
					continue
				}
				Sgemm(true, false, kdim, ncols, s.K, 1, w, kdim, d, ncols, 0, col, ncols)
				for bi := 0; bi < gn; bi++ {
					for c := 0; c < s.C; c++ {
						plane := dx[((n0+bi)*s.C+c)*ihw : ((n0+bi)*s.C+c+1)*ihw]
						clear(plane)
						col2imPlane(plane, col[c*kk*ncols+bi*hw:], ncols, s, oh, ow)
					}
				}
			}
		}
		if dw != nil {
			mu.Lock()
			parts = append(parts, partial{lo, pdw})
			mu.Unlock()
		}
	})
	if dw == nil {
		return
	}
	slices.SortFunc(parts, func(a, b partial) int { return a.lo - b.lo })
	acc := parts[0].buf
	for _, p := range parts[1:] {
		Axpy(1, p.buf, acc)
		putScratch(p.buf)
	}
	if transDW {
		for k := 0; k < s.K; k++ {
			row := dw[k*kdim : (k+1)*kdim]
			for i := range row {
				row[i] = acc[i*s.K+k]
			}
		}
	} else {
		copy(dw, acc)
	}
	putScratch(acc)
}
