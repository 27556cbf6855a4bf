package backbone

import (
	"math"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vmdls-go/vmdls/internal/golden"
	"github.com/vmdls-go/vmdls/tensor"
)

// loadTestdata opens the golden file testdata/<name> beside this package's
// sources, whatever the working directory.
func loadTestdata(t *testing.T, name string) *golden.File {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, err := golden.Load(filepath.Join(filepath.Dir(file), "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// goldenTensor returns the named tensor of f as a Tensor.
func goldenTensor(t *testing.T, f *golden.File, name string) *tensor.Tensor {
	t.Helper()
	shape, data, err := f.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	return tensor.FromSlice(data, shape...)
}

// normwiseErr is max|got-want| / max|want| (the absolute error when want is
// all zeros); a NaN difference counts as infinite.
func normwiseErr(got, want *tensor.Tensor) float64 {
	g, w := got.Data(), want.Data()
	var e, m float64
	for i := range w {
		d := math.Abs(float64(g[i]) - float64(w[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		e = math.Max(e, d)
		m = math.Max(m, math.Abs(float64(w[i])))
	}
	if m == 0 {
		return e
	}
	return e / m
}
