// Package cuda is the engine's NVIDIA GPU backend: device memory with a
// caching allocator, cuBLAS SGEMM, and kernels compiled at run time with
// NVRTC for every other primitive (elementwise maps, reductions,
// convolution as im2col/col2im around SGEMM, pooling, batch normalization,
// softmax, gathers, the optimizer steps, dropout), registered at the tensor
// package's Backend seam so that autograd, nn and ovd run unchanged on the
// GPU without copying tensors through the host.
//
// Only a binary built with the build tag `cuda` has the backend; it links
// libcuda, libcublas and libnvrtc through gorgonia.org/cu and cgo. Without
// the tag the package is pure Go: Available is false and every entry point
// returns ErrNotBuilt, so the default build stays cgo-free. The parts that
// need no GPU (status names, the allocator's bookkeeping, the row-major to
// column-major GEMM mapping, the generated kernel source, the self-test
// harness) are untagged so that CPU-only CI tests them.
//
// It sits beside kernels as a second compute layer under tensor's Backend
// seam and imports only tensor from the module; the vmdls command imports it
// in its cuda build alone. Registration happens in an init function, so
// importing the package (tagged build) makes Device usable with
// tensor.Tensor.To; Init reports the GPU, SelfTest checks the kernels
// against the CPU and BenchGemm times cuBLAS SGEMM.
package cuda

import (
	"errors"

	"github.com/vmdls-go/vmdls/tensor"
)

// Device is the tensor device of the first GPU. Tensors move there with
// t.To(cuda.Device) once a `cuda` build has registered the backend.
const Device tensor.Device = 1

// ErrNotBuilt is what the entry points return in a binary built without the
// `cuda` tag, where there is no GPU code to run.
var ErrNotBuilt = errors.New("cuda: this binary was built without the cuda build tag")
