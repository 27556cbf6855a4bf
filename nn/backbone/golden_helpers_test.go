package backbone

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vmdls-go/vmdls/bench/golden"
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
