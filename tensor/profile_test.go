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
	if _, ok := lookupBackend(CPU).(*profiledBackend); ok {
		t.Error("stop left the profiling backend in place")
	}
	prof.Reset()
	if len(prof.Times()) != 0 {
		t.Error("Reset left entries")
	}
}
