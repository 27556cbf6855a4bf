package tensor

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestProfileSplitsConvBackward runs a convolution's forward and backward
// with and without the profile: the results must be bit-identical (the
// split backward computes the same dx and dw), every conv category must
// have been timed with its call count, and stop must restore the backend.
func TestProfileSplitsConvBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x, w, b := Randn(rng, 2, 3, 9, 9), Randn(rng, 4, 3, 3, 3), Randn(rng, 4)
	run := func() [4][]float32 {
		y := Conv2d(x, w, b, [2]int{1, 1}, [2]int{1, 1})
		dx, dw, db := Conv2dBackward(y, x, w, [2]int{1, 1}, [2]int{1, 1}, true, true, true)
		return [4][]float32{y.Data(), dx.Data(), dw.Data(), db.Data()}
	}
	want := run()
	prof, stop := StartProfile(CPU)
	got := run()
	stop()
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("output %d differs under the profile", i)
		}
	}
	calls := map[string]int{}
	for _, e := range prof.Times() {
		calls[e.Op] = e.Calls
		if e.Time <= 0 {
			t.Errorf("%s: %d calls took %v", e.Op, e.Calls, e.Time)
		}
	}
	for _, op := range []string{ProfConvForward, ProfConvInputGrad, ProfConvWeightGrad} {
		if calls[op] != 1 {
			t.Errorf("%s: %d calls, want 1 (all: %v)", op, calls[op], calls)
		}
	}
	convs := prof.Convs()
	if len(convs) != 3 {
		t.Fatalf("Convs: %d entries, want one per direction: %+v", len(convs), convs)
	}
	shape := ConvParams{N: 2, C: 3, H: 9, W: 9, K: 4, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, OH: 9, OW: 9}
	for _, c := range convs {
		if c.Shape != shape || c.Calls != 1 || c.Time <= 0 {
			t.Errorf("%s: shape %+v, %d calls in %v; want %+v once", c.Op, c.Shape, c.Calls, c.Time, shape)
		}
		if want := 2.0 * 2 * 4 * 27 * 81; c.FLOPs() != want {
			t.Errorf("%s: FLOPs %v, want %v", c.Op, c.FLOPs(), want)
		}
		if g := c.GFLOPS(); g != c.FLOPs()/c.Time.Seconds()/1e9 {
			t.Errorf("%s: GFLOPS %v for %v FLOPs in %v", c.Op, g, c.FLOPs(), c.Time)
		}
	}
	if _, ok := lookupBackend(CPU).(*profiledBackend); ok {
		t.Error("stop left the profiling backend in place")
	}
	prof.Reset()
	if len(prof.Times()) != 0 || len(prof.Convs()) != 0 {
		t.Error("Reset left entries")
	}
}
