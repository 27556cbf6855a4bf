//go:build !amd64 || purego

package kernels

// asmKernelsList is empty: there are no assembly kernels on this
// architecture.
var asmKernelsList []*microKernel

// asmKernel returns nil: the generic path is the only one here.
func asmKernel() *microKernel { return nil }

// prefetchRows is a no-op without the assembly version.
func prefetchRows(p *float32, stride, rows, span int) {}

// packAStrip reports false: the Go packing in packA is used instead.
func packAStrip(d, src []float32, lda, rows, mr, kc int) bool { return false }

// packBRows reports false: packBRowsGo is used instead.
func packBRows(dst, src []float32, kc, np, nr, ldb int) bool { return false }

// transpose8 reports false: the Go transposes are used instead.
func transpose8(dst, src []float32, ldsrc, lddst, rows, nblk int) bool { return false }
