package kernels

// colRange returns the output columns [lo, hi) whose input column
// ox*stride - pad + j lies inside [0, size): outside it the column reads
// padding.
func colRange(j, stride, pad, size, out int) (lo, hi int) {
	if d := pad - j; d > 0 {
		lo = (d + stride - 1) / stride
	}
	last := size - 1 + pad - j // largest ox*stride allowed
	if last < 0 {
		return 0, 0
	}
	hi = min(out, last/stride+1)
	lo = min(lo, out)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// im2colPlane unfolds one input channel plane (H×W) into KH*KW rows of the
// column matrix, row (i*KW+j) starting at dst[(i*KW+j)*ld], each OH*OW
// long: row (i, j) holds the input value each output position multiplies
// with filter tap (i, j), 0 where the tap falls on padding. Every element of
// those rows is written, so dst may hold garbage on entry.
func im2colPlane(dst []float32, ld int, plane []float32, s *ConvShape, oh, ow int) {
	if s.isSameShift(ow) {
		im2colShift(dst, ld, plane, s, oh, ow)
		return
	}
	for i := 0; i < s.KH; i++ {
		for j := 0; j < s.KW; j++ {
			row := dst[(i*s.KW+j)*ld : (i*s.KW+j)*ld+oh*ow]
			lo, hi := colRange(j, s.SW, s.PW, s.W, ow)
			for oy := 0; oy < oh; oy++ {
				out := row[oy*ow : oy*ow+ow]
				iy := oy*s.SH - s.PH + i
				if iy < 0 || iy >= s.H {
					clear(out)
					continue
				}
				clear(out[:lo])
				clear(out[hi:])
				src := plane[iy*s.W : iy*s.W+s.W]
				ix := lo*s.SW - s.PW + j
				if s.SW == 1 {
					copy(out[lo:hi], src[ix:ix+hi-lo])
					continue
				}
				for ox := lo; ox < hi; ox++ {
					out[ox] = src[ix]
					ix += s.SW
				}
			}
		}
	}
}

// col2imPlane is the adjoint of im2colPlane: it adds each element of the
// KH*KW rows back into the input position it was read from (padding
// positions are dropped). plane must hold the values to add to (zero for a
// plain gradient). src may be overwritten.
func col2imPlane(plane []float32, src []float32, ld int, s *ConvShape, oh, ow int) {
	if s.isSameShift(ow) {
		col2imShift(plane, src, ld, s, oh, ow)
		return
	}
	for i := 0; i < s.KH; i++ {
		for j := 0; j < s.KW; j++ {
			row := src[(i*s.KW+j)*ld : (i*s.KW+j)*ld+oh*ow]
			lo, hi := colRange(j, s.SW, s.PW, s.W, ow)
			if hi <= lo {
				continue
			}
			for oy := 0; oy < oh; oy++ {
				iy := oy*s.SH - s.PH + i
				if iy < 0 || iy >= s.H {
					continue
				}
				in := row[oy*ow : oy*ow+ow]
				dst := plane[iy*s.W : iy*s.W+s.W]
				ix := lo*s.SW - s.PW + j
				if s.SW == 1 {
					Axpy(1, in[lo:hi], dst[ix:ix+hi-lo])
					continue
				}
				for ox := lo; ox < hi; ox++ {
					dst[ix] += in[ox]
					ix += s.SW
				}
			}
		}
	}
}

// Im2col unfolds image n of x (N×C×H×W) into the column matrix of the
// convolution s: C*KH*KW rows of OH*OW values, row r starting at dst[r*ld]
// (ld >= OH*OW lets several images share one wide matrix). It is the
// single-threaded building block of Conv2d, exported for tests and for
// callers with their own scheduling.
func Im2col(s ConvShape, dst []float32, ld int, x []float32, n int) {
	oh, ow := s.OutH(), s.OutW()
	hw := s.H * s.W
	kk := s.KH * s.KW
	for c := 0; c < s.C; c++ {
		plane := x[(n*s.C+c)*hw : (n*s.C+c+1)*hw]
		im2colPlane(dst[c*kk*ld:], ld, plane, &s, oh, ow)
	}
}

// Col2im adds the column matrix src (laid out as Im2col writes it) back
// into image n of dx, the adjoint of Im2col. It may overwrite src.
func Col2im(s ConvShape, dx []float32, n int, src []float32, ld int) {
	oh, ow := s.OutH(), s.OutW()
	hw := s.H * s.W
	kk := s.KH * s.KW
	for c := 0; c < s.C; c++ {
		plane := dx[(n*s.C+c)*hw : (n*s.C+c+1)*hw]
		col2imPlane(plane, src[c*kk*ld:], ld, &s, oh, ow)
	}
}

// isSameShift reports whether the convolution has stride 1 and keeps the
// width (OW == W, as 3×3 filters with padding 1 do). Then each row of the
// column matrix is the input plane shifted by (i-PH)*W + (j-PW) as a
// whole, which turns OH short copies into one long one plus the zeroing of
// the few columns that wrap around the plane's edges.
func (s *ConvShape) isSameShift(ow int) bool {
	return s.SH == 1 && s.SW == 1 && ow == s.W
}

// shiftRows returns, for tap (i, j), the output rows [oy0, oy1) that read
// inside the plane, the plane offset of the shift, and the valid output
// columns [lo, hi).
func (s *ConvShape) shiftRows(i, j, oh, ow int) (oy0, oy1, shift, lo, hi int) {
	oy0, oy1 = max(0, s.PH-i), min(oh, s.H+s.PH-i)
	if oy1 < oy0 {
		oy1 = oy0
	}
	lo, hi = colRange(j, 1, s.PW, s.W, ow)
	return oy0, oy1, (i-s.PH)*s.W + (j - s.PW), lo, hi
}

func im2colShift(dst []float32, ld int, plane []float32, s *ConvShape, oh, ow int) {
	hw := len(plane)
	for i := 0; i < s.KH; i++ {
		for j := 0; j < s.KW; j++ {
			row := dst[(i*s.KW+j)*ld : (i*s.KW+j)*ld+oh*ow]
			oy0, oy1, shift, lo, hi := s.shiftRows(i, j, oh, ow)
			q0, q1 := oy0*ow, oy1*ow
			clear(row[:q0])
			clear(row[q1:])
			if q1 == q0 {
				continue
			}
			// The ends may reach outside the plane; they are padding
			// columns, zeroed below.
			a, b := max(q0, -shift), min(q1, hw-shift)
			if b > a {
				copy(row[a:b], plane[a+shift:b+shift])
				clear(row[q0:a])
				clear(row[b:q1])
			} else {
				clear(row[q0:q1])
			}
			if lo > 0 || hi < ow {
				for oy := oy0; oy < oy1; oy++ {
					r := row[oy*ow : oy*ow+ow]
					clear(r[:lo])
					clear(r[hi:])
				}
			}
		}
	}
}

// col2imShift adds the rows back with one long Axpy each. The columns that
// wrap around the plane's edges are zeroed in src first so they add
// nothing: src is the caller's scratch (Col2im documents that it may be
// overwritten).
func col2imShift(plane []float32, src []float32, ld int, s *ConvShape, oh, ow int) {
	hw := len(plane)
	for i := 0; i < s.KH; i++ {
		for j := 0; j < s.KW; j++ {
			row := src[(i*s.KW+j)*ld : (i*s.KW+j)*ld+oh*ow]
			oy0, oy1, shift, lo, hi := s.shiftRows(i, j, oh, ow)
			if oy1 == oy0 || hi <= lo {
				continue
			}
			if lo > 0 || hi < ow {
				for oy := oy0; oy < oy1; oy++ {
					r := row[oy*ow : oy*ow+ow]
					clear(r[:lo])
					clear(r[hi:])
				}
			}
			a, b := max(oy0*ow, -shift), min(oy1*ow, hw-shift)
			if b > a {
				Axpy(1, row[a:b], plane[a+shift:b+shift])
			}
		}
	}
}
