package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func newSrc(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// f64 returns t's values widened to float64.
func f64(t *Tensor) []float64 {
	h := t.host()
	out := make([]float64, len(h))
	for i, v := range h {
		out[i] = float64(v)
	}
	return out
}

// unravel turns a flat row-major index into a multi-index of shape.
func unravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for a := len(shape) - 1; a >= 0; a-- {
		if shape[a] > 0 {
			idx[a] = i % shape[a]
			i /= shape[a]
		}
	}
	return idx
}

// bcastIndex maps an index of the broadcast shape out to the flat index of
// an operand of shape s (reference implementation of broadcasting).
func bcastIndex(idx, s, out []int) int {
	f := 0
	for a := range s {
		oa := len(out) - len(s) + a
		x := idx[oa]
		if s[a] == 1 {
			x = 0
		}
		f = f*s[a] + x
	}
	return f
}

// refBinary evaluates f over the broadcast of a and b in float64 loops.
func refBinary(a, b *Tensor, out []int, f func(x, y float64) float64) []float64 {
	av, bv := f64(a), f64(b)
	n := numelOf(out)
	r := make([]float64, n)
	for i := range r {
		idx := unravel(i, out)
		r[i] = f(av[bcastIndex(idx, a.shape, out)], bv[bcastIndex(idx, b.shape, out)])
	}
	return r
}

// checkClose asserts t's values match want within |got-want| <= atol +
// rtol*|want|; NaNs must match NaNs and infinities must be equal.
func checkClose(tb testing.TB, what string, t *Tensor, want []float64, rtol, atol float64) {
	tb.Helper()
	got := f64(t)
	if len(got) != len(want) {
		tb.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		g, w := got[i], want[i]
		ok := g == w || (math.IsNaN(g) && math.IsNaN(w)) || math.Abs(g-w) <= atol+rtol*math.Abs(w)
		if !ok {
			if bad < 5 {
				tb.Errorf("%s: [%d] = %v, want %v (shape %v)", what, i, g, w, t.shape)
			}
			bad++
		}
	}
	if bad > 0 {
		tb.Fatalf("%s: %d of %d values wrong", what, bad, len(got))
	}
}

// checkShapeIs asserts t has the given shape.
func checkShapeIs(tb testing.TB, what string, t *Tensor, shape ...int) {
	tb.Helper()
	if !slices.Equal(t.shape, shape) {
		tb.Fatalf("%s: shape %v, want %v", what, t.shape, shape)
	}
}

// randT is a normal random tensor of shape.
func randT(src *rand.Rand, shape ...int) *Tensor { return Randn(src, shape...) }

// mustPanicShape runs fn and returns the *ShapeError it panics with, failing
// the test if it does not panic or panics with something else.
func mustPanicShape(tb testing.TB, what string, fn func()) (se *ShapeError) {
	tb.Helper()
	defer func() {
		r := recover()
		if r == nil {
			tb.Fatalf("%s: did not panic", what)
		}
		var ok bool
		if se, ok = r.(*ShapeError); !ok {
			tb.Fatalf("%s: panicked with %T %v, want *ShapeError", what, r, r)
		}
	}()
	fn()
	return nil
}

func shapeStr(s []int) string { return fmt.Sprint(s) }
