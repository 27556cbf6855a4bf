package tensor

import (
	"math"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/parallel"
)

// refReduce folds the values of a over the given axes with f in float64,
// returning the result in row-major order of the kept axes.
func refReduce(a *Tensor, axes []int, init float64, f func(acc, v float64) float64) []float64 {
	av := f64(a)
	var kept []int
	for i := range a.shape {
		if !slices.Contains(axes, i) {
			kept = append(kept, a.shape[i])
		}
	}
	out := make([]float64, numelOf(kept))
	for i := range out {
		out[i] = init
	}
	for i, v := range av {
		idx := unravel(i, a.shape)
		o := 0
		j := 0
		for ax := range a.shape {
			if !slices.Contains(axes, ax) {
				o = o*kept[j] + idx[ax]
				j++
			}
		}
		out[o] = f(out[o], v)
	}
	return out
}

func TestSumHandChecked(t *testing.T) {
	a := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	s := Sum(a, false)
	checkShapeIs(t, "Sum all", s)
	if s.Item() != 21 {
		t.Fatalf("Sum all = %v", s.Item())
	}
	checkClose(t, "Sum axis 0", Sum(a, false, 0), []float64{5, 7, 9}, 0, 0)
	checkClose(t, "Sum axis -1", Sum(a, false, -1), []float64{6, 15}, 0, 0)
	k := Sum(a, true, 1)
	checkShapeIs(t, "Sum keepDim", k, 2, 1)
	checkShapeIs(t, "Sum keepDim all", Sum(a, true), 1, 1)
	checkClose(t, "Mean axis 1", Mean(a, false, 1), []float64{2, 5}, 0, 0)
	if v := Mean(a, false).Item(); v != 3.5 {
		t.Fatalf("Mean all = %v", v)
	}
	checkShapeIs(t, "Sum of scalar", Sum(Scalar(3), false))
	if v := Sum(Scalar(3), false).Item(); v != 3 {
		t.Fatalf("Sum(Scalar(3)) = %v", v)
	}
	// Size-0: sums are 0, means NaN, as in torch.
	z := Zeros(0, 3)
	checkClose(t, "Sum over empty axis", Sum(z, false, 0), []float64{0, 0, 0}, 0, 0)
	checkShapeIs(t, "Sum keeping empty axis", Sum(z, false, 1), 0)
	if v := Mean(z, false).Item(); !math.IsNaN(float64(v)) {
		t.Fatalf("Mean of empty = %v, want NaN", v)
	}
}

// TestReduceRandom compares Sum, Mean and the max/min values over many axis
// sets with float64 loops. Sums accumulate in float64 and are rounded once
// per reduction pass (non-adjacent axis runs take one pass each), so they
// lie within 2 float32 roundings (2.4e-7 of the sum of |x|) of the exact
// value; max and min are exact.
func TestReduceRandom(t *testing.T) {
	src := newSrc(4)
	cases := []struct {
		shape []int
		axes  []int
	}{
		{[]int{5}, nil}, {[]int{3, 4}, []int{0}}, {[]int{3, 4}, []int{1}}, {[]int{3, 4}, []int{0, 1}},
		{[]int{2, 3, 4, 5}, []int{1}}, {[]int{2, 3, 4, 5}, []int{0, 2}}, {[]int{2, 3, 4, 5}, []int{1, 2}},
		{[]int{2, 3, 4, 5}, []int{0, 3}}, {[]int{2, 3, 4, 5}, []int{-1, 1}}, {[]int{2, 3, 4, 5}, []int{0, 2, 3}},
		{[]int{64, 32, 7, 7}, []int{0, 2, 3}}, {[]int{300, 500}, []int{0}}, {[]int{300, 500}, []int{1}},
		{[]int{3, 1, 4}, []int{1}}, {[]int{1, 70000}, []int{1}}, {[]int{70000, 3}, []int{0}},
	}
	for _, c := range cases {
		a := randT(src, c.shape...)
		axes := reduceAxes("test", a.shape, c.axes)
		absSum := refReduce(Abs(a), axes, 0, func(s, v float64) float64 { return s + v })
		want := refReduce(a, axes, 0, func(s, v float64) float64 { return s + v })
		got := Sum(a, false, c.axes...)
		count := float64(a.n / max(1, len(want)))
		for _, keep := range []bool{false, true} {
			got = Sum(a, keep, c.axes...)
			checkShapeIs(t, "Sum", got, reducedShape(a.shape, axes, keep)...)
		}
		gv := f64(got)
		for i := range want {
			if math.Abs(gv[i]-want[i]) > 2.4e-7*absSum[i] {
				t.Fatalf("Sum %v over %v: [%d] = %v, want %v", c.shape, c.axes, i, gv[i], want[i])
			}
		}
		mv := f64(Mean(a, false, c.axes...))
		for i := range want {
			if w := want[i] / count; math.Abs(mv[i]-w) > 3.6e-7*absSum[i]/count {
				t.Fatalf("Mean %v over %v: [%d] = %v, want %v", c.shape, c.axes, i, mv[i], w)
			}
		}
		if len(axes) == 1 {
			ax := axes[0]
			vals, idx := Max(a, ax, false)
			checkClose(t, "Max", vals, refReduce(a, axes, math.Inf(-1), math.Max), 0, 0)
			checkIndices(t, "Max", a, ax, vals, idx)
			vals, idx = Min(a, ax, true)
			checkShapeIs(t, "Min keepDim", vals, reducedShape(a.shape, axes, true)...)
			checkClose(t, "Min", vals, refReduce(a, axes, math.Inf(1), math.Min), 0, 0)
			checkIndices(t, "Min", a, ax, vals, idx)
			if am := Argmax(a, ax); !slices.Equal(am, func() []int { _, i := Max(a, ax, false); return i }()) {
				t.Fatalf("Argmax differs from Max's indices")
			}
			lse := LogSumExp(a, ax, false)
			wl := refReduce(a, axes, 0, func(s, v float64) float64 { return s + math.Exp(v) })
			for i := range wl {
				wl[i] = math.Log(wl[i])
			}
			checkClose(t, "LogSumExp", lse, wl, 2.4e-7, 1e-7)
		}
	}
}

// checkIndices asserts that a's values at idx along axis equal vals.
func checkIndices(t *testing.T, what string, a *Tensor, axis int, vals *Tensor, idx []int) {
	t.Helper()
	outer, inner := splitAt(a.shape, axis)
	av, vv := f64(a), f64(vals)
	if len(idx) != outer*inner {
		t.Fatalf("%s: %d indices, want %d", what, len(idx), outer*inner)
	}
	for c, j := range idx {
		o, i := c/inner, c%inner
		if got := av[(o*a.shape[axis]+j)*inner+i]; got != vv[c] {
			t.Fatalf("%s: index %d at %d points to %v, value is %v", what, j, c, got, vv[c])
		}
	}
}

func TestMaxSemantics(t *testing.T) {
	nan := float32(math.NaN())
	a := FromSlice([]float32{
		1, 3, 3, 2, // tie: first max
		5, nan, 7, nan, // NaN wins, first NaN
		-1, -1, -1, -1,
	}, 3, 4)
	v, idx := Max(a, 1, false)
	checkClose(t, "Max values", v, []float64{3, math.NaN(), -1}, 0, 0)
	if !slices.Equal(idx, []int{1, 1, 0}) {
		t.Fatalf("Max indices %v, want [1 1 0]", idx)
	}
	v, idx = Min(a, 1, false)
	checkClose(t, "Min values", v, []float64{1, math.NaN(), -1}, 0, 0)
	if !slices.Equal(idx, []int{0, 1, 0}) {
		t.Fatalf("Min indices %v, want [0 1 0]", idx)
	}
	// Along axis 0 (strided).
	v, idx = Max(a, 0, true)
	checkShapeIs(t, "Max keepDim", v, 1, 4)
	checkClose(t, "Max axis 0", v, []float64{5, math.NaN(), 7, nan64()}, 0, 0)
	if !slices.Equal(idx, []int{1, 1, 1, 1}) {
		t.Fatalf("Max axis 0 indices %v", idx)
	}
	if m := MaxAll(a); !math.IsNaN(float64(m)) {
		t.Fatalf("MaxAll with NaN = %v", m)
	}
	if m := MaxAll(FromSlice([]float32{-3, 8, 2}, 3)); m != 8 {
		t.Fatalf("MaxAll = %v", m)
	}
	if got := Argmax(FromSlice([]float32{2, 2, 2, 1}, 2, 2), 0); !slices.Equal(got, []int{0, 0}) {
		t.Fatalf("Argmax axis 0 = %v", got)
	}
}

func nan64() float64 { return math.NaN() }

func TestLogSumExpStable(t *testing.T) {
	ninf := float32(math.Inf(-1))
	a := FromSlice([]float32{
		1000, 1000, // would overflow without the shift
		-1000, -1000, // would underflow to log 0
		ninf, ninf, // all -inf: -inf, like torch
		ninf, 0,
		float32(math.Inf(1)), 0,
	}, 5, 2)
	got := LogSumExp(a, 1, false)
	l2 := math.Log(2)
	checkClose(t, "LogSumExp", got, []float64{1000 + l2, -1000 + l2, math.Inf(-1), 0, math.Inf(1)}, 1e-7, 0)
	checkShapeIs(t, "LogSumExp keepDim", LogSumExp(a, 0, true), 1, 2)
	checkClose(t, "LogSumExp over empty axis", LogSumExp(Zeros(2, 0), 1, false), []float64{math.Inf(-1), math.Inf(-1)}, 0, 0)
}

func TestSoftmax(t *testing.T) {
	a := FromSlice([]float32{1, 2, 3, 1000, 1001, 1002}, 2, 3)
	e := []float64{math.Exp(-2), math.Exp(-1), 1}
	s := e[0] + e[1] + e[2]
	want := []float64{e[0] / s, e[1] / s, e[2] / s, e[0] / s, e[1] / s, e[2] / s}
	checkClose(t, "Softmax", Softmax(a, 1), want, 1.2e-7, 0)
	lw := make([]float64, 6)
	for i := range lw {
		lw[i] = math.Log(want[i])
	}
	checkClose(t, "LogSoftmax", LogSoftmax(a, -1), lw, 1.2e-7, 0)
	// Random, along a middle axis, against the float64 definition.
	src := newSrc(5)
	x := Normal(src, 0, 5, 4, 7, 3)
	xv := f64(x)
	ws, wl := make([]float64, len(xv)), make([]float64, len(xv))
	for o := 0; o < 4; o++ {
		for i := 0; i < 3; i++ {
			m := math.Inf(-1)
			for j := 0; j < 7; j++ {
				m = math.Max(m, xv[(o*7+j)*3+i])
			}
			var z float64
			for j := 0; j < 7; j++ {
				z += math.Exp(xv[(o*7+j)*3+i] - m)
			}
			for j := 0; j < 7; j++ {
				p := (o*7+j)*3 + i
				ws[p] = math.Exp(xv[p]-m) / z
				wl[p] = xv[p] - m - math.Log(z)
			}
		}
	}
	checkClose(t, "Softmax axis 1", Softmax(x, 1), ws, 1.2e-7, 0)
	checkClose(t, "LogSoftmax axis 1", LogSoftmax(x, 1), wl, 1.2e-7, 1e-7)
	checkShapeIs(t, "Softmax empty", Softmax(Zeros(0, 3), 1), 0, 3)
}

// TestSumAccuracy sums 1e6 and 4e6 elements whose exact sum is known: a
// float32 running sum would be off by about 1e-4 relative here; the float64
// accumulation must be within 1e-6 (in fact within one rounding).
func TestSumAccuracy(t *testing.T) {
	for _, n := range []int{1_000_000, 4_000_000} {
		d := make([]float32, n)
		var exact float64
		for i := range d {
			d[i] = float32(0.1 + float64(i%1000)*1e-3)
			exact += float64(d[i])
		}
		a := FromSlice(d, n)
		got := float64(Sum(a, false).Item())
		if rel := math.Abs(got-exact) / exact; rel > 1e-6 {
			t.Fatalf("Sum of %d: %v, exact %v, relative error %g", n, got, exact, rel)
		}
		// Along an axis of a 2-d tensor too (rows of 1e6 / 4).
		rows := Sum(a.Reshape(4, -1), false, 1)
		rv := f64(rows)
		for r := range 4 {
			var e float64
			for _, v := range d[r*n/4 : (r+1)*n/4] {
				e += float64(v)
			}
			if rel := math.Abs(rv[r]-e) / e; rel > 1e-6 {
				t.Fatalf("row sum %d of %d: relative error %g", r, n, rel)
			}
		}
		m := float64(Mean(a, false).Item())
		if rel := math.Abs(m-exact/float64(n)) / (exact / float64(n)); rel > 1e-6 {
			t.Fatalf("Mean of %d: relative error %g", n, rel)
		}
	}
}

// TestReduceThreadIndependent checks that sums, softmax and matmul give
// bit-identical results on 1 and on several worker threads, so that a run
// is reproducible whatever the machine's core count.
func TestReduceThreadIndependent(t *testing.T) {
	src := newSrc(15)
	x := randT(src, 3, 100000)
	y := randT(src, 1<<20)
	run := func() [][]float32 {
		return [][]float32{
			Sum(x, false, 1).Data(), Sum(x, false, 0).Data(), Sum(y, false).Data(),
			Mean(x.Reshape(300, 1000), false, 0).Data(), Softmax(x, 1).Data(),
			LogSumExp(x, 0, false).Data(),
		}
	}
	prev := parallel.SetThreads(1)
	defer parallel.SetThreads(prev)
	one := run()
	parallel.SetThreads(4)
	four := run()
	for i := range one {
		if !slices.Equal(one[i], four[i]) {
			t.Fatalf("result %d differs between 1 and 4 threads", i)
		}
	}
}
