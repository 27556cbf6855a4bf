package safetensors_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmdls-go/vmdls/safetensors"
)

// Write named tensors with metadata, read them back, and look one up by
// name. The file is readable by PyTorch's safetensors package.
func ExampleWriteFile() {
	dir, err := os.MkdirTemp("", "safetensors-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "w.safetensors")

	err = safetensors.WriteFile(path, []safetensors.Tensor{
		safetensors.FromFloat32("fc.weight", []int{2, 2}, []float32{1, 2, 3, 4}),
		safetensors.FromInt64("bn.num_batches_tracked", []int{}, []int64{7}),
	}, map[string]string{"format": "pt"})
	if err != nil {
		panic(err)
	}

	f, err := safetensors.ReadFile(path)
	if err != nil {
		panic(err)
	}
	for _, t := range f.Tensors {
		fmt.Println(t.Name, t.DType, t.Shape)
	}
	w, _ := f.Get("fc.weight")
	v, err := w.Float32s()
	fmt.Println(v, err, f.Metadata["format"])
	// Output:
	// fc.weight F32 [2 2]
	// bn.num_batches_tracked I64 []
	// [1 2 3 4] <nil> pt
}

// Inspect a file's tensors and metadata without reading their data, for
// example to check a checkpoint against command-line flags before loading
// it.
func ExampleReadHeader() {
	dir, err := os.MkdirTemp("", "safetensors-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ck.safetensors")
	err = safetensors.WriteFile(path, []safetensors.Tensor{
		safetensors.FromFloat32("fc_mu.weight", []int{2, 3}, make([]float32, 6)),
	}, map[string]string{"enc_type": "resnet18"})
	if err != nil {
		panic(err)
	}

	h, err := safetensors.ReadHeader(path)
	if err != nil {
		panic(err)
	}
	mu, _ := h.Get("fc_mu.weight")
	fmt.Println(h.Metadata["enc_type"], mu.DType, mu.Shape, mu.Offsets)
	// Output:
	// resnet18 F32 [2 3] [0 24]
}
