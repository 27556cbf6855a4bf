//go:build !amd64

package kernels

// asmKernelsList is empty: there are no assembly kernels on this
// architecture.
var asmKernelsList []*microKernel

// asmKernel returns nil: the generic path is the only one here.
func asmKernel() *microKernel { return nil }
