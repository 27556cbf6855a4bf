//go:build !amd64 || purego

package kernels

// Without the assembly, useAVX2 is false and these are never called.

func sumDiff64AVX2(x *float32, n int, m float64, out *[2]float64) { panic("unreachable") }

func sumProdDiff64AVX2(grad, x *float32, n int, m float64, out *[2]float64) { panic("unreachable") }

func scaleShiftAVX2(dst, x *float32, n int, a, b float32) { panic("unreachable") }

func bnInputGradAVX2(dst, grad, x *float32, n int, a, b, m, d float32) { panic("unreachable") }
