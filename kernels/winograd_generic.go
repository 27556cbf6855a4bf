package kernels

// The Winograd transforms in pure Go: the specification of the assembly
// ones and the path on other CPUs. The matrices follow Lavin and Gray (Fast
// Algorithms for Convolutional Neural Networks, 2015), built from
// interpolation points and ∞: 0, ±1 for F(2×2, 3×3); 0, ±1/2, ±2 (and ±1)
// for F(6×6, 3×3). F(4×4, 3×3) uses 0, ±2/3, ±4/3 rather than the usual
// 0, ±1, ±2: the same algorithm with its intermediate values rescaled (the
// points are the usual ones times 2/3), which measured 3.3 to 4 times less
// error in float32 (normwise, 16 to 256 channels: 1.5e-6 against 4.8e-6
// at 64) for a few more multiplications in the transforms, which are
// bound by their loads anyway. Each row of Bᵀ is scaled so that its d4 (or
// d5) coefficient is 1, and G by the inverse, which the filter transform
// absorbs. The expressions factor out the sums and differences the rows
// share.

// winoG2, winoG4 and winoG6 are the filter transforms G (α×3).
var (
	winoG2 = [][3]float64{
		{1, 0, 0},
		{0.5, 0.5, 0.5},
		{0.5, -0.5, 0.5},
		{0, 0, 1},
	}
	winoG4 = [][3]float64{
		{81. / 64, 0, 0},
		{-27. / 32, -9. / 16, -3. / 8},
		{-27. / 32, 9. / 16, -3. / 8},
		{27. / 128, 9. / 32, 3. / 8},
		{27. / 128, -9. / 32, 3. / 8},
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

// g2 and g4 are G of F(2×2, 3×3) and F(4×4, 3×3) applied to one column
// or row of a filter.
func g2(a, b, c float64) (u0, u1, u2, u3 float64) {
	s := a + c
	return a, (s + b) / 2, (s - b) / 2, c
}

func g4(a, b, c float64) (u0, u1, u2, u3, u4, u5 float64) {
	p, q := -27./32*a-3./8*c, 9./16*b
	r, t := 27./128*a+3./8*c, 9./32*b
	return 81. / 64 * a, p - q, p + q, r + t, r - t, c
}

// winoFilter2 and winoFilter4 are winoFilter(winoG2) and winoFilter(winoG4)
// unrolled: with hundreds of thousands of filters in a wide layer, the
// table-driven loops took a tenth of the call.
func winoFilter2(u []float32, us int, g *[9]float64) {
	var t [4][3]float64
	for j := 0; j < 3; j++ {
		t[0][j], t[1][j], t[2][j], t[3][j] = g2(g[j], g[3+j], g[6+j])
	}
	u = u[:15*us+1]
	for i := 0; i < 4; i++ {
		u0, u1, u2, u3 := g2(t[i][0], t[i][1], t[i][2])
		u[(i*4)*us], u[(i*4+1)*us], u[(i*4+2)*us], u[(i*4+3)*us] = float32(u0), float32(u1), float32(u2), float32(u3)
	}
}

func winoFilter4(u []float32, us int, g *[9]float64) {
	var t [6][3]float64
	for j := 0; j < 3; j++ {
		t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j] = g4(g[j], g[3+j], g[6+j])
	}
	u = u[:35*us+1]
	for i := 0; i < 6; i++ {
		u0, u1, u2, u3, u4, u5 := g4(t[i][0], t[i][1], t[i][2])
		u[(i*6)*us], u[(i*6+1)*us], u[(i*6+2)*us] = float32(u0), float32(u1), float32(u2)
		u[(i*6+3)*us], u[(i*6+4)*us], u[(i*6+5)*us] = float32(u3), float32(u4), float32(u5)
	}
}

var (
	winoF2 = &winoTile{m: 2, alpha: 4, filter: winoFilter2, in: winoIn2, out: winoOut2}
	winoF4 = &winoTile{m: 4, alpha: 6, filter: winoFilter4, in: winoIn4, out: winoOut4}
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

// The coefficients of F(4×4, 3×3)'s Bᵀ and Aᵀ, rounded to float32 once
// (the assembly's table, winoK4, holds the same values).
const (
	k64_81 float32 = 64. / 81
	k20_9  float32 = 20. / 9
	k16_9  float32 = 16. / 9
	k32_27 float32 = 32. / 27
	k2_3   float32 = 2. / 3
	k4_9   float32 = 4. / 9
	k16_27 float32 = 16. / 27
	k4_3   float32 = 4. / 3
	k8_27  float32 = 8. / 27
	k64_27 float32 = 64. / 27
)

// bt4 is Bᵀ of F(4×4, 3×3) on the points 0, ±2/3, ±4/3, ∞:
//
//	64/81   0      -20/9   0     1  0
//	0      -32/27  -16/9   2/3   1  0
//	0       32/27  -16/9  -2/3   1  0
//	0      -16/27  -4/9    4/3   1  0
//	0       16/27  -4/9   -4/3   1  0
//	0       64/81   0     -20/9  0  1
func bt4(d0, d1, d2, d3, d4, d5 float32) (o0, o1, o2, o3, o4, o5 float32) {
	a, b := d4-k16_9*d2, k2_3*d3-k32_27*d1
	c, e := d4-k4_9*d2, k4_3*d3-k16_27*d1
	return k64_81*d0 - k20_9*d2 + d4, a + b, a - b, c + e, c - e, k64_81*d1 - k20_9*d3 + d5
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
//	1  1     1     1      1      0
//	0  2/3  -2/3   4/3   -4/3    0
//	0  4/9   4/9   16/9   16/9   0
//	0  8/27 -8/27  64/27 -64/27  1
func at4(m0, m1, m2, m3, m4, m5 float32) (y0, y1, y2, y3 float32) {
	a, b := m1+m2, m1-m2
	c, d := m3+m4, m3-m4
	return m0 + a + c, k2_3*b + k4_3*d, k4_9*a + k16_9*c, k8_27*b + k64_27*d + m5
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
