package kernels

// The Winograd transforms in pure Go: the specification of the assembly
// ones and the path on other CPUs. The matrices are Lavin and Gray's (Fast
// Algorithms for Convolutional Neural Networks, 2015), from the
// interpolation points 0, ±1, ±2 (and ±1/2 for m = 6) and ∞; the
// expressions factor out the sums and differences the rows share.

// winoG2, winoG4 and winoG6 are the filter transforms G (α×3).
var (
	winoG2 = [][3]float64{
		{1, 0, 0},
		{0.5, 0.5, 0.5},
		{0.5, -0.5, 0.5},
		{0, 0, 1},
	}
	winoG4 = [][3]float64{
		{1. / 4, 0, 0},
		{-1. / 6, -1. / 6, -1. / 6},
		{-1. / 6, 1. / 6, -1. / 6},
		{1. / 24, 1. / 12, 1. / 6},
		{1. / 24, -1. / 12, 1. / 6},
		{0, 0, 1},
	}
	winoG6 = [][3]float64{
		{1, 0, 0},
		{-2. / 9, -2. / 9, -2. / 9},
		{-2. / 9, 2. / 9, -2. / 9},
		{1. / 90, 1. / 45, 2. / 45},
		{1. / 90, -1. / 45, 2. / 45},
		{32. / 45, 16. / 45, 8. / 45},
		{32. / 45, -16. / 45, 8. / 45},
		{0, 0, 1},
	}
)

// winoBT6 and winoAT6 are Bᵀ (8×8) and Aᵀ (6×8) of F(6×6, 3×3), which
// its table-driven transforms use.
var (
	winoBT6 = [8][8]float32{
		{1, 0, -21. / 4, 0, 21. / 4, 0, -1, 0},
		{0, 1, 1, -17. / 4, -17. / 4, 1, 1, 0},
		{0, -1, 1, 17. / 4, -17. / 4, -1, 1, 0},
		{0, 0.5, 0.25, -2.5, -1.25, 2, 1, 0},
		{0, -0.5, 0.25, 2.5, -1.25, -2, 1, 0},
		{0, 2, 4, -2.5, -5, 0.5, 1, 0},
		{0, -2, 4, 2.5, -5, -0.5, 1, 0},
		{0, -1, 0, 21. / 4, 0, -21. / 4, 0, 1},
	}
	winoAT6 = [6][8]float32{
		{1, 1, 1, 1, 1, 1, 1, 0},
		{0, 1, -1, 2, -2, 0.5, -0.5, 0},
		{0, 1, 1, 4, 4, 0.25, 0.25, 0},
		{0, 1, -1, 8, -8, 0.125, -0.125, 0},
		{0, 1, 1, 16, 16, 1. / 16, 1. / 16, 0},
		{0, 1, -1, 32, -32, 1. / 32, -1. / 32, 1},
	}
)

// winoFilter returns the filter transform u = G g Gᵀ for the matrix G,
// in float64 and rounded once: it runs once per filter per call, so its
// cost does not matter and the rounding of U is the only error it adds.
func winoFilter(G [][3]float64) func(u []float32, us int, g *[9]float64) {
	return func(u []float32, us int, g *[9]float64) {
		a := len(G)
		var t [8][3]float64 // G g
		for i := 0; i < a; i++ {
			for j := 0; j < 3; j++ {
				t[i][j] = G[i][0]*g[j] + G[i][1]*g[3+j] + G[i][2]*g[6+j]
			}
		}
		for i := 0; i < a; i++ {
			for j := 0; j < a; j++ {
				u[(i*a+j)*us] = float32(t[i][0]*G[j][0] + t[i][1]*G[j][1] + t[i][2]*G[j][2])
			}
		}
	}
}

var (
	winoF2 = &winoTile{m: 2, alpha: 4, filter: winoFilter(winoG2), in: winoIn2, out: winoOut2}
	winoF4 = &winoTile{m: 4, alpha: 6, filter: winoFilter(winoG4), in: winoIn4, out: winoOut4}
	winoF6 = &winoTile{m: 6, alpha: 8, filter: winoFilter(winoG6), in: winoIn6Generic, out: winoOut6Generic}
)

// reluF is Relu's rule for one value: negative values become 0, NaN and
// -0 pass through, as the fused ReLU of the im2col path gives.
func reluF(v float32) float32 {
	if v < 0 {
		return 0
	}
	return v
}

// bt2 is Bᵀ of F(2×2, 3×3) applied to one column or row of a tile.
func bt2(d0, d1, d2, d3 float32) (o0, o1, o2, o3 float32) {
	return d0 - d2, d1 + d2, d2 - d1, d1 - d3
}

func winoIn2Generic(v []float32, vs int, x []float32, offs []int32, ldx int) {
	if len(offs) == 0 {
		return
	}
	v = v[:15*vs+len(offs)]
	for j, o := range offs {
		var t [16]float32
		for c := 0; c < 4; c++ {
			col := x[int(o)+c:][:3*ldx+1]
			t[c], t[4+c], t[8+c], t[12+c] = bt2(col[0], col[ldx], col[2*ldx], col[3*ldx])
		}
		for r := 0; r < 4; r++ {
			o0, o1, o2, o3 := bt2(t[r*4], t[r*4+1], t[r*4+2], t[r*4+3])
			v[(r*4)*vs+j] = o0
			v[(r*4+1)*vs+j] = o1
			v[(r*4+2)*vs+j] = o2
			v[(r*4+3)*vs+j] = o3
		}
	}
}

// at2 is Aᵀ of F(2×2, 3×3).
func at2(m0, m1, m2, m3 float32) (y0, y1 float32) {
	return m0 + m1 + m2, m1 - m2 - m3
}

func winoOut2Generic(y []float32, ldy int, offs []int32, mm []float32, ms int, bias float32, relu bool) {
	if len(offs) == 0 {
		return
	}
	mm = mm[:15*ms+len(offs)]
	for j, o := range offs {
		var t [8]float32
		for c := 0; c < 4; c++ {
			t[c], t[4+c] = at2(mm[c*ms+j], mm[(4+c)*ms+j], mm[(8+c)*ms+j], mm[(12+c)*ms+j])
		}
		for r := 0; r < 2; r++ {
			y0, y1 := at2(t[r*4], t[r*4+1], t[r*4+2], t[r*4+3])
			y0, y1 = y0+bias, y1+bias
			if relu {
				y0, y1 = reluF(y0), reluF(y1)
			}
			row := y[int(o)+r*ldy:][:2]
			row[0], row[1] = y0, y1
		}
	}
}

// bt4 is Bᵀ of F(4×4, 3×3):
//
//	4  0 -5  0  1  0
//	0 -4 -4  1  1  0
//	0  4 -4 -1  1  0
//	0 -2 -1  2  1  0
//	0  2 -1 -2  1  0
//	0  4  0 -5  0  1
func bt4(d0, d1, d2, d3, d4, d5 float32) (o0, o1, o2, o3, o4, o5 float32) {
	a, b := d4-4*d2, d3-4*d1
	c, e := d4-d2, 2*(d3-d1)
	return 4*d0 - 5*d2 + d4, a + b, a - b, c + e, c - e, 4*d1 - 5*d3 + d5
}

func winoIn4Generic(v []float32, vs int, x []float32, offs []int32, ldx int) {
	if len(offs) == 0 {
		return
	}
	v = v[:35*vs+len(offs)]
	for j, o := range offs {
		var t [36]float32
		for c := 0; c < 6; c++ {
			col := x[int(o)+c:][:5*ldx+1]
			t[c], t[6+c], t[12+c], t[18+c], t[24+c], t[30+c] = bt4(col[0], col[ldx], col[2*ldx], col[3*ldx], col[4*ldx], col[5*ldx])
		}
		for r := 0; r < 6; r++ {
			o0, o1, o2, o3, o4, o5 := bt4(t[r*6], t[r*6+1], t[r*6+2], t[r*6+3], t[r*6+4], t[r*6+5])
			v[(r*6)*vs+j] = o0
			v[(r*6+1)*vs+j] = o1
			v[(r*6+2)*vs+j] = o2
			v[(r*6+3)*vs+j] = o3
			v[(r*6+4)*vs+j] = o4
			v[(r*6+5)*vs+j] = o5
		}
	}
}

// at4 is Aᵀ of F(4×4, 3×3):
//
//	1  1  1  1  1  0
//	0  1 -1  2 -2  0
//	0  1  1  4  4  0
//	0  1 -1  8 -8  1
func at4(m0, m1, m2, m3, m4, m5 float32) (y0, y1, y2, y3 float32) {
	a, b := m1+m2, m1-m2
	c, d := m3+m4, m3-m4
	return m0 + a + c, b + 2*d, a + 4*c, b + 8*d + m5
}

func winoOut4Generic(y []float32, ldy int, offs []int32, mm []float32, ms int, bias float32, relu bool) {
	if len(offs) == 0 {
		return
	}
	mm = mm[:35*ms+len(offs)]
	for j, o := range offs {
		var t [24]float32
		for c := 0; c < 6; c++ {
			t[c], t[6+c], t[12+c], t[18+c] = at4(mm[c*ms+j], mm[(6+c)*ms+j], mm[(12+c)*ms+j],
				mm[(18+c)*ms+j], mm[(24+c)*ms+j], mm[(30+c)*ms+j])
		}
		for r := 0; r < 4; r++ {
			y0, y1, y2, y3 := at4(t[r*6], t[r*6+1], t[r*6+2], t[r*6+3], t[r*6+4], t[r*6+5])
			y0, y1, y2, y3 = y0+bias, y1+bias, y2+bias, y3+bias
			if relu {
				y0, y1, y2, y3 = reluF(y0), reluF(y1), reluF(y2), reluF(y3)
			}
			row := y[int(o)+r*ldy:][:4]
			row[0], row[1], row[2], row[3] = y0, y1, y2, y3
		}
	}
}

// winoIn6Generic and winoOut6Generic are F(6×6, 3×3)'s transforms, driven
// by the tables winoBT6 and winoAT6.
func winoIn6Generic(v []float32, vs int, x []float32, offs []int32, ldx int) {
	if len(offs) == 0 {
		return
	}
	v = v[:63*vs+len(offs)]
	for j, o := range offs {
		var d, t [8][8]float32
		for r := 0; r < 8; r++ {
			copy(d[r][:], x[int(o)+r*ldx:][:8])
		}
		for i := 0; i < 8; i++ { // t = Bᵀ d
			for c := 0; c < 8; c++ {
				var s float32
				for k := 0; k < 8; k++ {
					s += winoBT6[i][k] * d[k][c]
				}
				t[i][c] = s
			}
		}
		for i := 0; i < 8; i++ { // v = t B
			for c := 0; c < 8; c++ {
				var s float32
				for k := 0; k < 8; k++ {
					s += t[i][k] * winoBT6[c][k]
				}
				v[(i*8+c)*vs+j] = s
			}
		}
	}
}

func winoOut6Generic(y []float32, ldy int, offs []int32, mm []float32, ms int, bias float32, relu bool) {
	if len(offs) == 0 {
		return
	}
	mm = mm[:63*ms+len(offs)]
	for j, o := range offs {
		var t [6][8]float32
		for i := 0; i < 6; i++ { // t = Aᵀ M
			for c := 0; c < 8; c++ {
				var s float32
				for k := 0; k < 8; k++ {
					s += winoAT6[i][k] * mm[(k*8+c)*ms+j]
				}
				t[i][c] = s
			}
		}
		for i := 0; i < 6; i++ { // y = t A
			row := y[int(o)+i*ldy:][:6]
			for c := 0; c < 6; c++ {
				s := bias
				for k := 0; k < 8; k++ {
					s += t[i][k] * winoAT6[c][k]
				}
				if relu {
					s = reluF(s)
				}
				row[c] = s
			}
		}
	}
}
