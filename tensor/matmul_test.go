package tensor

import (
	"math"
	"testing"
)

// refMatMul computes op(a) @ op(b) in float64 with torch.matmul's batch
// broadcasting, and alongside it Σ|a||b| per output, which bounds the
// float32 rounding error: any summation order of K products in float32
// (with or without FMA) is within K*2^-24 (to first order) of that sum.
func refMatMul(a, b *Tensor, transA, transB bool) (shape []int, val, abs []float64) {
	av, bv := f64(a), f64(b)
	ra, ca := a.shape[len(a.shape)-2], a.shape[len(a.shape)-1]
	rb, cb := b.shape[len(b.shape)-2], b.shape[len(b.shape)-1]
	m, k := ra, ca
	if transA {
		m, k = ca, ra
	}
	n := cb
	if transB {
		n = rb
	}
	ab, bb := a.shape[:len(a.shape)-2], b.shape[:len(b.shape)-2]
	batch, _ := BroadcastShapes(ab, bb)
	nb := numelOf(batch)
	shape = append(append([]int{}, batch...), m, n)
	val = make([]float64, nb*m*n)
	abs = make([]float64, nb*m*n)
	for bi := 0; bi < nb; bi++ {
		idx := unravel(bi, batch)
		ao := bcastIndex(idx, ab, batch) * ra * ca
		bo := bcastIndex(idx, bb, batch) * rb * cb
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s, sa float64
				for p := 0; p < k; p++ {
					var x, y float64
					if transA {
						x = av[ao+p*ca+i]
					} else {
						x = av[ao+i*ca+p]
					}
					if transB {
						y = bv[bo+j*cb+p]
					} else {
						y = bv[bo+p*cb+j]
					}
					s += x * y
					sa += math.Abs(x * y)
				}
				val[(bi*m+i)*n+j] = s
				abs[(bi*m+i)*n+j] = sa
			}
		}
	}
	return shape, val, abs
}

func checkMatMul(t *testing.T, what string, got, a, b *Tensor, transA, transB bool) {
	t.Helper()
	shape, want, abs := refMatMul(a, b, transA, transB)
	checkShapeIs(t, what, got, shape...)
	k := a.shape[len(a.shape)-1]
	if transA {
		k = a.shape[len(a.shape)-2]
	}
	gv := f64(got)
	for i := range want {
		tol := float64(k+1) * 0x1p-24 * abs[i]
		if math.Abs(gv[i]-want[i]) > tol {
			t.Fatalf("%s %v@%v tA=%v tB=%v: [%d] = %v, want %v (tol %g)", what, a.shape, b.shape, transA, transB, i, gv[i], want[i], tol)
		}
	}
}

func TestMatMulHandChecked(t *testing.T) {
	a := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := FromSlice([]float32{7, 8, 9, 10, 11, 12}, 3, 2)
	checkClose(t, "MatMul", MatMul(a, b), []float64{58, 64, 139, 154}, 0, 0)
	checkClose(t, "MatMulT tA", MatMulT(a, a, true, false), []float64{17, 22, 27, 22, 29, 36, 27, 36, 45}, 0, 0)
	checkClose(t, "MatMulT tB", MatMulT(a, a, false, true), []float64{14, 32, 32, 77}, 0, 0)
	w := FromSlice([]float32{1, 0, -1, 2, 1, 0}, 2, 3)
	bias := FromSlice([]float32{0.5, -1}, 2)
	checkClose(t, "Linear", Linear(a, w, bias), []float64{-2 + 0.5, 4 - 1, -2 + 0.5, 13 - 1}, 0, 0)
	checkClose(t, "Linear no bias", Linear(a, w, nil), []float64{-2, 4, -2, 13}, 0, 0)
}

func TestMatMulRandom(t *testing.T) {
	src := newSrc(6)
	cases := []struct{ a, b []int }{
		{[]int{1, 1}, []int{1, 1}}, {[]int{3, 5}, []int{5, 4}}, {[]int{17, 33}, []int{33, 9}},
		{[]int{64, 130}, []int{130, 67}},
		{[]int{4, 3, 5}, []int{5, 6}},       // batched @ 2-d (one tall product)
		{[]int{3, 5}, []int{4, 5, 6}},       // 2-d @ batched
		{[]int{4, 3, 5}, []int{4, 5, 6}},    // batched @ batched
		{[]int{2, 1, 3, 5}, []int{3, 5, 2}}, // broadcast batches -> [2 3 3 2]
		{[]int{1, 3, 4}, []int{5, 4, 2}},
		{[]int{2, 3, 2, 7, 4}, []int{3, 1, 4, 3}},
		{[]int{64, 8, 9}, []int{64, 9, 7}}, // many small products, split by batch
		{[]int{0, 3}, []int{3, 4}}, {[]int{3, 0}, []int{0, 4}}, {[]int{2, 3}, []int{3, 0}}, {[]int{0, 2, 3}, []int{3, 4}},
	}
	for _, c := range cases {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				as, bs := append([]int{}, c.a...), append([]int{}, c.b...)
				// Store the operands so that op() gives the case's shapes.
				if tA {
					as[len(as)-1], as[len(as)-2] = as[len(as)-2], as[len(as)-1]
				}
				if tB {
					bs[len(bs)-1], bs[len(bs)-2] = bs[len(bs)-2], bs[len(bs)-1]
				}
				a, b := randT(src, as...), randT(src, bs...)
				checkMatMul(t, "MatMulT", MatMulT(a, b, tA, tB), a, b, tA, tB)
				if !tA && !tB {
					checkMatMul(t, "MatMul", MatMul(a, b), a, b, false, false)
				}
			}
		}
	}
	// Operands that are views into the middle of a storage (offsets).
	big := randT(src, 10, 6, 8)
	a, b := big.Slice(3, 5), big.Slice(6, 7).Reshape(8, 6)
	checkMatMul(t, "MatMul on views", MatMul(a, b), a, b, false, false)
}

func TestLinearRandom(t *testing.T) {
	src := newSrc(7)
	for _, xs := range [][]int{{5, 7}, {2, 3, 7}, {7}, {0, 7}} {
		x, w, bias := randT(src, xs...), randT(src, 4, 7), randT(src, 4)
		got := Linear(x, w, bias)
		x2 := x.Reshape(-1, 7)
		_, ref, abs := refMatMul(x2, w, false, true)
		bv := f64(bias)
		for i := range ref {
			ref[i] += bv[i%4]
			abs[i] += math.Abs(bv[i%4])
		}
		want := append(append([]int{}, xs[:len(xs)-1]...), 4)
		checkShapeIs(t, "Linear", got, want...)
		gv := f64(got)
		for i := range ref {
			if math.Abs(gv[i]-ref[i]) > 8*0x1p-24*abs[i] {
				t.Fatalf("Linear %v: [%d] = %v, want %v", xs, i, gv[i], ref[i])
			}
		}
	}
}
