//go:build !cuda

package cuda

import "io"

// Available reports whether this binary has the GPU backend: not in a build
// without the cuda tag.
const Available = false

// Init reports ErrNotBuilt: there is no GPU code in this binary.
func Init() (Info, error) { return Info{}, ErrNotBuilt }

// Stats is the zero bookkeeping of a binary without a GPU.
func Stats() AllocStats { return AllocStats{} }

// SelfTest reports ErrNotBuilt.
func SelfTest(w io.Writer) error { return ErrNotBuilt }

// BenchGemm reports ErrNotBuilt.
func BenchGemm(n, reps int) (GemmResult, error) { return GemmResult{}, ErrNotBuilt }
