package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/parallel"
)

// TestBinaryInPlaceMatches checks that every binary op gives the same bits
// in place (dst is a) as into a fresh slice, over a run long enough for the
// vector kernels' tails.
func TestBinaryInPlaceMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := make([]float32, 1037), make([]float32, 1037)
	for i := range a {
		a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	for op := BAdd; op <= BReluBackward; op++ {
		want := make([]float32, len(a))
		Binary(op, want, a, b)
		got := slices.Clone(a)
		Binary(op, got, got, b)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("op %d: in place [%d] = %v, into a new slice %v", op, i, got[i], want[i])
			}
		}
	}
}

// TestStridedRuns checks the strided forms against their definitions,
// including a broadcast (stride 0) operand.
func TestStridedRuns(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{10, 20, 30}
	d := make([]float32, 3)
	BinaryStrided(BSub, d, a, 2, b, 1) // a[0], a[2], a[4] minus b
	if want := []float32{-9, -17, -25}; !slices.Equal(d, want) {
		t.Errorf("BinaryStrided = %v, want %v", d, want)
	}
	BinaryStrided(BMaximum, d, a[5:], 0, b, 1)
	if want := []float32{10, 20, 30}; !slices.Equal(d, want) {
		t.Errorf("BinaryStrided broadcast = %v, want %v", d, want)
	}
	Select(d, []float32{1, 0, 2}, 1, a, 1, b[2:], 0)
	if want := []float32{1, 30, 3}; !slices.Equal(d, want) {
		t.Errorf("Select = %v, want %v", d, want)
	}
	e := make([]float32, 6)
	CopyStrided(e[1:], 2, a, 3, 2)
	if want := []float32{0, 1, 0, 4, 0, 0}; !slices.Equal(e, want) {
		t.Errorf("CopyStrided = %v, want %v", e, want)
	}
}

// TestReduceSumIndependentOfThreads checks that a long row's blocked sum,
// and the per-row and strided sums, give the same bits on one thread and
// on four.
func TestReduceSumIndependentOfThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 3*sumBlock+123)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	shapes := [][3]int{{1, len(x), 1}, {len(x) / 41, 41, 1}, {len(x) / 123, 41, 3}}
	for _, s := range shapes {
		n := s[0] * s[1] * s[2]
		var got [2][]float32
		for i, threads := range []int{1, 4} {
			prev := parallel.SetThreads(threads)
			got[i] = make([]float32, s[0]*s[2])
			Reduce(RSum, got[i], x[:n], s[0], s[1], s[2])
			parallel.SetThreads(prev)
		}
		if !slices.Equal(got[0], got[1]) {
			t.Errorf("shape %v: sums differ between 1 and 4 threads", s)
		}
		// The first row's sum, where rows are contiguous.
		var want float64
		for _, v := range x[:s[1]] {
			want += float64(v)
		}
		if s[2] == 1 && math.Abs(float64(got[0][0])-want) > 1e-3*math.Max(1, math.Abs(want)) {
			t.Errorf("shape %v: first sum %v, want %v", s, got[0][0], want)
		}
	}
}

// TestChannelStatsMatchesFloat64 checks the two-pass statistics against a
// direct float64 computation, for an offset large enough that a one-pass
// variance in float32 would lose it.
func TestChannelStatsMatchesFloat64(t *testing.T) {
	const n, c, hw = 3, 5, 37
	rng := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, n*c*hw)
	for i := range x {
		x[i] = 1000 + float32(rng.NormFloat64())
	}
	mean, variance := make([]float32, c), make([]float32, c)
	ChannelStats(mean, variance, x, n, c, hw)
	for ch := 0; ch < c; ch++ {
		var s, sq float64
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				s += float64(v)
			}
		}
		m := s / (n * hw)
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				sq += (float64(v) - m) * (float64(v) - m)
			}
		}
		v := sq / (n * hw)
		if math.Abs(float64(mean[ch])-m) > 1e-4 || math.Abs(float64(variance[ch])-v) > 1e-5*math.Max(1, v) {
			t.Errorf("channel %d: mean %v variance %v, want %v %v", ch, mean[ch], variance[ch], m, v)
		}
	}
}
