package nets

import (
	"encoding/json"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/internal/golden"
	"github.com/vmdls-go/vmdls/tensor"
)

// Forward within 1e-5 and gradient within 1e-4 (normwise) of nets.py's loss
// computed in float64: the tolerances.
const lossFwdTol, lossGradTol = 1e-5, 1e-4

func relErr(got, want []float32) float64 {
	var e, m float64
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		e = math.Max(e, d)
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if m == 0 {
		return e
	}
	return e / m
}

func TestTripletKLLossMatchesNetsPy(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	f, err := golden.Load(filepath.Join(filepath.Dir(file), "testdata", "loss.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) ([]int, []float32) {
		sh, d, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		return sh, d
	}
	for _, name := range []string{"balanced", "uneven", "nets160"} {
		var meta struct{ Ncls int }
		if err := json.Unmarshal([]byte(f.Metadata()[name]), &meta); err != nil {
			t.Fatal(err)
		}
		zs, zd := get(name + ".z")
		_, ld := get(name + ".labels")
		labels := make([]int, len(ld))
		for i, v := range ld {
			labels[i] = int(v)
		}
		_, want := get(name + ".loss")
		_, wantGrad := get(name + ".grad")

		z := autograd.Param(tensor.FromSlice(zd, zs...))
		loss := TripletKLLoss(z, labels, meta.Ncls)
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		ef := relErr([]float32{loss.Value().Item()}, want)
		eg := relErr(z.Grad().Data(), wantGrad)
		t.Logf("%s: loss %v (nets.py %v) error %.2g, gradient error %.2g", name, loss.Value().Item(), want[0], ef, eg)
		if ef > lossFwdTol {
			t.Errorf("%s: loss error %.3g > %g", name, ef, lossFwdTol)
		}
		if eg > lossGradTol {
			t.Errorf("%s: gradient error %.3g > %g", name, eg, lossGradTol)
		}
	}
}

func TestBalancedLabels(t *testing.T) {
	got, err := BalancedLabels(6, 3)
	if err != nil || !slices.Equal(got, []int{0, 0, 1, 1, 2, 2}) {
		t.Errorf("BalancedLabels(6, 3) = %v, %v", got, err)
	}
	for _, bad := range [][2]int{{7, 3}, {2, 3}, {0, 1}, {6, 0}} {
		if _, err := BalancedLabels(bad[0], bad[1]); err == nil {
			t.Errorf("BalancedLabels(%d, %d) accepted", bad[0], bad[1])
		}
	}
}

func TestTripletKLLossBadInput(t *testing.T) {
	z := autograd.Const(tensor.Zeros(4, 2))
	for name, fn := range map[string]func(){
		"label count":   func() { TripletKLLoss(z, []int{0, 1, 0}, 2) },
		"label range":   func() { TripletKLLoss(z, []int{0, 1, 2, 0}, 2) },
		"missing class": func() { TripletKLLoss(z, []int{0, 0, 2, 2}, 3) },
		"no triplet":    func() { TripletKLLoss(z, []int{0, 1, 2, 3}, 4) },
	} {
		if !panics(fn) {
			t.Errorf("%s: accepted", name)
		}
	}
}

func panics(fn func()) (p bool) {
	defer func() { p = recover() != nil }()
	fn()
	return false
}
