//go:build !amd64 || purego

package kernels

func sgdStepAVX2(p, grad, buf *float32, n int, wd, mom, damp, negLR float32, flags int) { noAsm() }

func adamStepAVX2(p, grad, m, v *float32, n int, o *AdamOptions, wd int) { noAsm() }
