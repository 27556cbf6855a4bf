package data

import "math"

// PIL computes resampling weights in fixed point with this many fractional
// bits for 8-bit images (32 bits minus 8 for the pixel minus 2 for sign
// and overflow head room).
const pilPrecisionBits = 32 - 8 - 2

// pilCoeffs returns, for each output position, the first input index, the
// number of inputs and their fixed-point weights, as PIL's
// precompute_coeffs and normalize_coeffs_8bpc compute them for its bilinear
// ("triangle") filter: the filter's support widens with the downscale
// factor, which is what makes PIL's resize antialiased.
func pilCoeffs(inSize int, in0, in1 float64, outSize int) (bounds []int, kk []int32, ksize int) {
	scale := (in1 - in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := 1.0 * filterscale
	ksize = int(math.Ceil(support))*2 + 1
	bounds = make([]int, 2*outSize)
	kk = make([]int32, outSize*ksize)
	w := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := in0 + (float64(xx)+0.5)*scale
		ss := 1.0 / filterscale
		xmin := int(center - support + 0.5) // C's (int) truncates toward zero
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			t := math.Abs((float64(x+xmin) - center + 0.5) * ss)
			v := 0.0
			if t < 1 {
				v = 1 - t
			}
			w[x] = v
			ww += v
		}
		for x := 0; x < xmax; x++ {
			if ww != 0 {
				w[x] /= ww
			}
			f := w[x] * (1 << pilPrecisionBits)
			if f < 0 {
				kk[xx*ksize+x] = int32(-0.5 + f)
			} else {
				kk[xx*ksize+x] = int32(0.5 + f)
			}
		}
		bounds[2*xx], bounds[2*xx+1] = xmin, xmax
	}
	return bounds, kk, ksize
}

// clip8 turns a fixed-point accumulator into a byte as PIL does.
func clip8(v int32) uint8 {
	v >>= pilPrecisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// Resize returns img resized to h x w the way PIL's Image.resize does with
// BILINEAR on 8-bit images (torchvision's Resize on PIL images): a
// horizontal pass into an 8-bit intermediate, then a vertical pass, with
// PIL's antialiased weights and fixed-point rounding.
func Resize(img *Image, h, w int) *Image {
	if h == img.H && w == img.W {
		return img.Clone()
	}
	bh, kh, ksh := pilCoeffs(img.W, 0, float64(img.W), w)
	bv, kv, ksv := pilCoeffs(img.H, 0, float64(img.H), h)
	// Rows of the input the vertical pass reads.
	yFirst := bv[0]
	yLast := bv[2*h-2] + bv[2*h-1]
	out := NewImage(img.C, h, w)
	needH := w != img.W
	needV := h != img.H
	tmpH := yLast - yFirst
	var tmp []uint8
	if needH {
		tmp = make([]uint8, tmpH*w)
	}
	for c := 0; c < img.C; c++ {
		in := img.Plane(c)
		src, srcW, rowOff := in, img.W, 0
		if needH {
			for y := 0; y < tmpH; y++ {
				row := in[(y+yFirst)*img.W:]
				for xx := 0; xx < w; xx++ {
					xmin, n := bh[2*xx], bh[2*xx+1]
					k := kh[xx*ksh:]
					ss := int32(1 << (pilPrecisionBits - 1))
					for x := 0; x < n; x++ {
						ss += int32(row[xmin+x]) * k[x]
					}
					tmp[y*w+xx] = clip8(ss)
				}
			}
			src, srcW, rowOff = tmp, w, yFirst
		}
		dst := out.Plane(c)
		if !needV {
			copy(dst, src[:h*w])
			continue
		}
		for yy := 0; yy < h; yy++ {
			ymin, n := bv[2*yy]-rowOff, bv[2*yy+1]
			k := kv[yy*ksv:]
			for xx := 0; xx < w; xx++ {
				ss := int32(1 << (pilPrecisionBits - 1))
				for y := 0; y < n; y++ {
					ss += int32(src[(ymin+y)*srcW+xx]) * k[y]
				}
				dst[yy*w+xx] = clip8(ss)
			}
		}
	}
	return out
}

// Crop returns the h x w window of img whose top-left corner is (top, left);
// the window may reach outside img, where it is filled with fill (PIL's
// crop pads with 0; torchvision's padded RandomCrop with its fill).
func Crop(img *Image, top, left, h, w int, fill uint8) *Image {
	out := NewImage(img.C, h, w)
	for c := 0; c < img.C; c++ {
		in, dst := img.Plane(c), out.Plane(c)
		for y := 0; y < h; y++ {
			sy := top + y
			row := dst[y*w : (y+1)*w]
			if sy < 0 || sy >= img.H {
				fillBytes(row, fill)
				continue
			}
			x0 := max(0, -left)
			x1 := min(w, img.W-left)
			if x1 <= x0 {
				fillBytes(row, fill)
				continue
			}
			fillBytes(row[:x0], fill)
			copy(row[x0:x1], in[sy*img.W+left+x0:sy*img.W+left+x1])
			fillBytes(row[x1:], fill)
		}
	}
	return out
}

func fillBytes(b []uint8, v uint8) {
	if v == 0 {
		clear(b)
		return
	}
	for i := range b {
		b[i] = v
	}
}

// HFlip mirrors img left to right.
func HFlip(img *Image) *Image {
	out := NewImage(img.C, img.H, img.W)
	for r := 0; r < img.C*img.H; r++ {
		in, dst := img.Pix[r*img.W:(r+1)*img.W], out.Pix[r*img.W:(r+1)*img.W]
		for x := range in {
			dst[img.W-1-x] = in[x]
		}
	}
	return out
}

// Invert returns 255 - img (PIL's ImageOps.invert).
func Invert(img *Image) *Image {
	out := NewImage(img.C, img.H, img.W)
	for i, v := range img.Pix {
		out.Pix[i] = 255 - v
	}
	return out
}

// Interp selects how Rotate samples the source image.
type Interp int

// Interpolation modes of Rotate, as PIL's resample argument.
const (
	Nearest Interp = iota
	Bilinear
)

// Rotate returns img rotated counter-clockwise by angle degrees about its
// centre, keeping its size, with pixels from outside filled with fill: PIL's
// Image.rotate (torchvision's RotateTransform on PIL images), including its
// affine matrix rounded to 15 decimals, its nearest-neighbour incremental
// walk and its bilinear filter that clamps at the image border.
func Rotate(img *Image, angle float64, interp Interp, fill uint8) *Image {
	angle = math.Mod(angle, 360)
	if angle < 0 {
		angle += 360
	}
	w, h := img.W, img.H
	switch {
	case angle == 0:
		return img.Clone()
	case angle == 180:
		return rot180(img)
	case (angle == 90 || angle == 270) && w == h:
		return rot90(img, angle == 90)
	}
	cx, cy := float64(w)/2, float64(h)/2
	rad := -angle * math.Pi / 180
	round15 := func(v float64) float64 { return math.RoundToEven(v*1e15) / 1e15 }
	a := [6]float64{round15(math.Cos(rad)), round15(math.Sin(rad)), 0, round15(-math.Sin(rad)), round15(math.Cos(rad)), 0}
	a[2] = a[0]*(-cx) + a[1]*(-cy) + a[2]
	a[5] = a[3]*(-cx) + a[4]*(-cy) + a[5]
	a[2] += cx
	a[5] += cy
	out := NewImage(img.C, h, w)
	fillBytes(out.Pix, fill)
	if interp == Nearest {
		if fitsFixed(a, 0, 0) && fitsFixed(a, w, h) && fitsFixed(a, 0, h) && fitsFixed(a, w, 0) {
			rotateNearestFixed(img, out, a)
		} else {
			rotateNearestFloat(img, out, a)
		}
		return out
	}
	for c := 0; c < img.C; c++ {
		in, dst := img.Plane(c), out.Plane(c)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				xi, yi := float64(x)+0.5, float64(y)+0.5
				sx := a[0]*xi + a[1]*yi + a[2]
				sy := a[3]*xi + a[4]*yi + a[5]
				if v, ok := bilinear8(in, w, h, sx, sy); ok {
					dst[y*w+x] = v
				}
			}
		}
	}
	return out
}

// coord is PIL's COORD macro: C truncation, with every negative value -1.
func coord(v float64) int {
	if v < 0 {
		return -1
	}
	return int(v)
}

// bilinear8 is PIL's bilinear_filter8: sample at (x, y) in pixel
// coordinates whose centres sit at +0.5, neighbours clamped to the image,
// result truncated to a byte. ok is false outside the image.
func bilinear8(in []uint8, w, h int, x, y float64) (uint8, bool) {
	if x < 0 || x >= float64(w) || y < 0 || y >= float64(h) {
		return 0, false
	}
	x -= 0.5
	y -= 0.5
	fx, fy := math.Floor(x), math.Floor(y)
	ix, iy := int(fx), int(fy)
	dx, dy := x-fx, y-fy
	clampX := func(v int) int { return min(max(v, 0), w-1) }
	x0, x1 := clampX(ix), clampX(ix+1)
	row := in[min(max(iy, 0), h-1)*w:]
	v1 := float64(row[x0]) + (float64(row[x1])-float64(row[x0]))*dx
	v2 := v1
	if iy+1 >= 0 && iy+1 < h {
		row2 := in[(iy+1)*w:]
		v2 = float64(row2[x0]) + (float64(row2[x1])-float64(row2[x0]))*dx
	}
	v := v1 + (v2-v1)*dy
	return uint8(v), true
}

func rot180(img *Image) *Image {
	out := NewImage(img.C, img.H, img.W)
	n := img.H * img.W
	for c := 0; c < img.C; c++ {
		in, dst := img.Plane(c), out.Plane(c)
		for i := 0; i < n; i++ {
			dst[n-1-i] = in[i]
		}
	}
	return out
}

// rot90 is PIL's transpose ROTATE_90 (ccw true) or ROTATE_270 of a square
// image.
func rot90(img *Image, ccw bool) *Image {
	out := NewImage(img.C, img.H, img.W)
	n := img.W
	for c := 0; c < img.C; c++ {
		in, dst := img.Plane(c), out.Plane(c)
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				if ccw {
					dst[y*n+x] = in[x*n+n-1-y]
				} else {
					dst[y*n+x] = in[(n-1-x)*n+y]
				}
			}
		}
	}
	return out
}

// fitsFixed is PIL's check_fixed: the transform of (x, y) stays within the
// range of 16.16 fixed point.
func fitsFixed(a [6]float64, x, y int) bool {
	fx, fy := float64(x), float64(y)
	return math.Abs(a[0]*fx+a[1]*fy+a[2]) < 32768 && math.Abs(a[3]*fx+a[4]*fy+a[5]) < 32768
}

// fix16 is PIL's FIX: round to 16.16 fixed point.
func fix16(v float64) int32 { return int32(math.Floor(v*65536 + 0.5)) }

// rotateNearestFixed is PIL's affine_fixed: nearest neighbour with the
// source position walked in 16.16 fixed point.
func rotateNearestFixed(img, out *Image, a [6]float64) {
	w, h := img.W, img.H
	a0, a1, a3, a4 := fix16(a[0]), fix16(a[1]), fix16(a[3]), fix16(a[4])
	for c := 0; c < img.C; c++ {
		in, dst := img.Plane(c), out.Plane(c)
		a2 := fix16(a[2] + a[0]*0.5 + a[1]*0.5)
		a5 := fix16(a[5] + a[3]*0.5 + a[4]*0.5)
		for y := 0; y < h; y++ {
			xx, yy := a2, a5
			for x := 0; x < w; x++ {
				xin, yin := int(xx>>16), int(yy>>16)
				if xin >= 0 && xin < w && yin >= 0 && yin < h {
					dst[y*w+x] = in[yin*w+xin]
				}
				xx += a0
				yy += a3
			}
			a2 += a1
			a5 += a4
		}
	}
}

// rotateNearestFloat is PIL's double-precision nearest affine walk, used
// when fixed point would overflow.
func rotateNearestFloat(img, out *Image, a [6]float64) {
	w, h := img.W, img.H
	xo0 := a[2] + a[1]*0.5 + a[0]*0.5
	yo0 := a[5] + a[4]*0.5 + a[3]*0.5
	for c := 0; c < img.C; c++ {
		in, dst := img.Plane(c), out.Plane(c)
		xo, yo := xo0, yo0
		for y := 0; y < h; y++ {
			xx, yy := xo, yo
			for x := 0; x < w; x++ {
				xin, yin := coord(xx), coord(yy)
				if xin >= 0 && xin < w && yin >= 0 && yin < h {
					dst[y*w+x] = in[yin*w+xin]
				}
				xx += a[0]
				yy += a[3]
			}
			xo += a[1]
			yo += a[4]
		}
	}
}
