//go:build amd64 && !purego

package kernels

// The optimizer updates' AVX2+FMA kernels (optim_amd64.s). Each processes
// n elements, a multiple of 8; the wrappers in optim.go pass the remainder
// to the Go twins.

//go:noescape
func sgdStepAVX2(p, grad, buf *float32, n int, wd, mom, damp, negLR float32, flags int)

//go:noescape
func adamStepAVX2(p, grad, m, v *float32, n int, o *AdamOptions, wd int)
