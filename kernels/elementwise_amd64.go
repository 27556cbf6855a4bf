//go:build amd64 && !purego

package kernels

// AVX2(+FMA) kernels in elementwise_amd64.s. They trust the exported
// wrappers to have checked lengths: each processes len(dst) (or len(x), or
// len(y) for axpy) elements and reads that many from every input.

//go:noescape
func addAVX2(dst, a, b []float32)

//go:noescape
func subAVX2(dst, a, b []float32)

//go:noescape
func mulAVX2(dst, a, b []float32)

//go:noescape
func divAVX2(dst, a, b []float32)

//go:noescape
func axpyAVX2(alpha float32, x, y []float32)

//go:noescape
func scaleAVX2(dst []float32, alpha float32, x []float32)

//go:noescape
func addScalarAVX2(dst []float32, s float32, x []float32)

//go:noescape
func reluAVX2(dst, x []float32)

//go:noescape
func reluBackwardAVX2(dst, grad, x []float32)

//go:noescape
func expAVX2(dst, x []float32)

//go:noescape
func logAVX2(dst, x []float32)

//go:noescape
func sumAVX2(x []float32) float32

//go:noescape
func maxAVX2(x []float32) float32
