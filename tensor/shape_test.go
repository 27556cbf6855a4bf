package tensor

import (
	"slices"
	"testing"
)

func TestReshapeFamily(t *testing.T) {
	a := Arange(24).Reshape(2, 3, 4)
	checkShapeIs(t, "Reshape -1", a.Reshape(-1, 4), 6, 4)
	checkShapeIs(t, "Reshape scalar", Scalar(1).Reshape(1, 1), 1, 1)
	checkShapeIs(t, "Reshape to scalar", Ones(1, 1).Reshape())
	checkShapeIs(t, "Reshape empty", Zeros(0, 4).Reshape(4, 0, 2), 4, 0, 2)
	checkShapeIs(t, "Flatten", a.Flatten(1, -1), 2, 12)
	checkShapeIs(t, "Flatten all", a.Flatten(0, 2), 24)
	checkShapeIs(t, "Squeeze", a.Reshape(2, 1, 12).Squeeze(1), 2, 12)
	checkShapeIs(t, "Squeeze non-1 is a no-op", a.Squeeze(0), 2, 3, 4)
	checkShapeIs(t, "Unsqueeze end", a.Unsqueeze(-1), 2, 3, 4, 1)
	checkShapeIs(t, "Unsqueeze 3", a.Unsqueeze(3), 2, 3, 4, 1)
	checkShapeIs(t, "Unsqueeze scalar", Scalar(1).Unsqueeze(0), 1)
}

// TestPermuteRandom checks Permute, Transpose and T against index
// arithmetic for every permutation of a 4-d tensor.
func TestPermuteRandom(t *testing.T) {
	src := newSrc(10)
	shape := []int{2, 3, 4, 5}
	a := randT(src, shape...)
	av := f64(a)
	var perms [][]int
	var gen func(p []int, used int)
	gen = func(p []int, used int) {
		if len(p) == 4 {
			perms = append(perms, append([]int{}, p...))
			return
		}
		for i := 0; i < 4; i++ {
			if used&(1<<i) == 0 {
				gen(append(p, i), used|1<<i)
			}
		}
	}
	gen(nil, 0)
	for _, p := range perms {
		got := a.Permute(p...)
		out := []int{shape[p[0]], shape[p[1]], shape[p[2]], shape[p[3]]}
		want := make([]float64, len(av))
		for i := range want {
			idx := unravel(i, out)
			src := make([]int, 4)
			for d := range p {
				src[p[d]] = idx[d]
			}
			want[i] = av[((src[0]*3+src[1])*4+src[2])*5+src[3]]
		}
		checkShapeIs(t, "Permute", got, out...)
		checkClose(t, "Permute", got, want, 0, 0)
	}
	checkClose(t, "Transpose = Permute", a.Transpose(1, -1), f64(a.Permute(0, 3, 2, 1)), 0, 0)
	m := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	checkClose(t, "T", m.T(), []float64{1, 4, 2, 5, 3, 6}, 0, 0)
	// Big enough to be split over cores.
	b := randT(src, 64, 32, 40)
	checkClose(t, "big transpose", b.Transpose(0, 2).Transpose(0, 2), f64(b), 0, 0)
}

func TestNarrowIndexSelectIndexAdd(t *testing.T) {
	a := Arange(12).Reshape(3, 4)
	checkClose(t, "Narrow axis 1", a.Narrow(1, 1, 2), []float64{1, 2, 5, 6, 9, 10}, 0, 0)
	checkClose(t, "Narrow axis 0", a.Narrow(0, 2, 1), []float64{8, 9, 10, 11}, 0, 0)
	checkShapeIs(t, "Narrow empty", a.Narrow(1, 4, 0), 3, 0)
	checkClose(t, "IndexSelect rows", a.IndexSelect(0, []int{2, 0, 2}), []float64{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}, 0, 0)
	checkClose(t, "IndexSelect cols", a.IndexSelect(-1, []int{3, 0}), []float64{3, 0, 7, 4, 11, 8}, 0, 0)
	checkShapeIs(t, "IndexSelect none", a.IndexSelect(0, nil), 0, 4)
	acc := Zeros(3, 4)
	IndexAdd(acc, 0, []int{2, 0, 2}, Ones(3, 4))
	checkClose(t, "IndexAdd repeats accumulate", acc, []float64{1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2}, 0, 0)
	acc2 := Zeros(3, 4)
	IndexAdd(acc2, 1, []int{1, 1, 3}, Arange(9).Reshape(3, 3))
	checkClose(t, "IndexAdd axis 1", acc2, []float64{0, 1, 0, 2, 0, 7, 0, 5, 0, 13, 0, 8}, 0, 0)
	// IndexAdd is the adjoint of IndexSelect: <IndexSelect(x), g> = <x, IndexAdd(0, g)>.
	src := newSrc(11)
	x := randT(src, 50, 6, 7)
	idx := []int{3, 3, 0, 49, 17, 3}
	g := randT(src, 50, 6, 7).IndexSelect(0, []int{1, 2, 3, 4, 5, 6})
	lhs := Sum(Mul(x.IndexSelect(0, idx), g), false).Item()
	z := ZerosLike(x)
	IndexAdd(z, 0, idx, g)
	rhs := Sum(Mul(x, z), false).Item()
	if d := lhs - rhs; d > 1e-4 || d < -1e-4 {
		t.Fatalf("IndexAdd is not the adjoint of IndexSelect: %v vs %v", lhs, rhs)
	}
}

func TestConcatStack(t *testing.T) {
	a := Arange(6).Reshape(2, 3)
	b := AddScalar(Arange(3), 10).Reshape(1, 3)
	c := Concat(0, a, b)
	checkShapeIs(t, "Concat 0", c, 3, 3)
	checkClose(t, "Concat 0", c, []float64{0, 1, 2, 3, 4, 5, 10, 11, 12}, 0, 0)
	d := Concat(-1, a, AddScalar(Arange(4), 20).Reshape(2, 2))
	checkClose(t, "Concat 1", d, []float64{0, 1, 2, 20, 21, 3, 4, 5, 22, 23}, 0, 0)
	checkShapeIs(t, "Concat with empty", Concat(0, a, Zeros(0, 3)), 2, 3)
	checkShapeIs(t, "Concat skips legacy [0]", Concat(1, a, Zeros(0)), 2, 3)
	s := Stack(0, Arange(3), Ones(3))
	checkShapeIs(t, "Stack 0", s, 2, 3)
	checkClose(t, "Stack 0", s, []float64{0, 1, 2, 1, 1, 1}, 0, 0)
	s1 := Stack(-1, Arange(3), Ones(3))
	checkShapeIs(t, "Stack -1", s1, 3, 2)
	checkClose(t, "Stack -1", s1, []float64{0, 1, 1, 1, 2, 1}, 0, 0)
	checkShapeIs(t, "Stack scalars", Stack(0, Scalar(1), Scalar(2)), 2)
	// Random 3-way concat along the middle axis against Narrow.
	src := newSrc(12)
	p, q, r := randT(src, 4, 2, 5), randT(src, 4, 7, 5), randT(src, 4, 1, 5)
	cat := Concat(1, p, q, r)
	checkClose(t, "Concat then Narrow p", cat.Narrow(1, 0, 2), f64(p), 0, 0)
	checkClose(t, "Concat then Narrow q", cat.Narrow(1, 2, 7), f64(q), 0, 0)
	checkClose(t, "Concat then Narrow r", cat.Narrow(1, 9, 1), f64(r), 0, 0)
}

func TestExpandSumTo(t *testing.T) {
	a := FromSlice([]float32{1, 2, 3}, 3, 1)
	e := a.Expand(2, 3, 4)
	checkShapeIs(t, "Expand", e, 2, 3, 4)
	checkClose(t, "Expand", e.Narrow(0, 1, 1), []float64{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}, 0, 0)
	checkShapeIs(t, "Expand -1", a.Expand(-1, 5), 3, 5)
	checkShapeIs(t, "Expand scalar", Scalar(2).Expand(2, 2), 2, 2)
	checkShapeIs(t, "Expand to 0", FromSlice([]float32{1}, 1).Expand(0), 0)
	g := Ones(2, 3, 4)
	st := g.SumTo(3, 1)
	checkShapeIs(t, "SumTo", st, 3, 1)
	checkClose(t, "SumTo", st, []float64{8, 8, 8}, 0, 0)
	checkClose(t, "SumTo scalar", g.SumTo(), []float64{24}, 0, 0)
	checkShapeIs(t, "SumTo same", g.SumTo(2, 3, 4), 2, 3, 4)
	checkClose(t, "SumTo [1,1,4]", g.SumTo(1, 1, 4), []float64{6, 6, 6, 6}, 0, 0)
	// SumTo is the adjoint of broadcasting: <Expand(x), g> = <x, SumTo(g)>.
	src := newSrc(13)
	x := randT(src, 1, 5, 1)
	gg := randT(src, 3, 4, 5, 6)
	lhs := Sum(Mul(x.Expand(3, 4, 5, 6), gg), false).Item()
	rhs := Sum(Mul(x, gg.SumTo(1, 5, 1)), false).Item()
	if d := lhs - rhs; d > 1e-4 || d < -1e-4 {
		t.Fatalf("SumTo is not the adjoint of Expand: %v vs %v", lhs, rhs)
	}
	s, err := BroadcastShapes([]int{4, 1, 3}, []int{2, 1})
	if err != nil || !slices.Equal(s, []int{4, 2, 3}) {
		t.Fatalf("BroadcastShapes = %v, %v", s, err)
	}
	if _, err := BroadcastShapes([]int{2}, []int{3}); err == nil {
		t.Fatalf("BroadcastShapes accepted [2] and [3]")
	}
	if s, _ := BroadcastShapes([]int{0}, []int{1}); !slices.Equal(s, []int{0}) {
		t.Fatalf("BroadcastShapes([0],[1]) = %v", s)
	}
}
