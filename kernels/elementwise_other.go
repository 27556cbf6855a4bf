//go:build !amd64 || purego

package kernels

// Off amd64 useAVX2 is always false, so these stand-ins for the assembly
// kernels are never called; they exist so the dispatching wrappers compile.

func noAsm() { panic("kernels: assembly kernel called on a non-amd64 build") }

func addAVX2(dst, a, b []float32)                         { noAsm() }
func subAVX2(dst, a, b []float32)                         { noAsm() }
func mulAVX2(dst, a, b []float32)                         { noAsm() }
func divAVX2(dst, a, b []float32)                         { noAsm() }
func axpyAVX2(alpha float32, x, y []float32)              { noAsm() }
func scaleAVX2(dst []float32, alpha float32, x []float32) { noAsm() }
func addScalarAVX2(dst []float32, s float32, x []float32) { noAsm() }
func reluAVX2(dst, x []float32)                           { noAsm() }
func reluBackwardAVX2(dst, grad, x []float32)             { noAsm() }
func expAVX2(dst, x []float32)                            { noAsm() }
func logAVX2(dst, x []float32)                            { noAsm() }
func sumAVX2(x []float32) float32                         { noAsm(); return 0 }
func maxAVX2(x []float32) float32                         { noAsm(); return 0 }
