// Package kernels is the CPU compute of the engine: SGEMM, convolution,
// pooling, elementwise and reduction kernels on plain float32 slices. Of
// the module it imports only parallel, the worker pool; it knows nothing of
// tensors, shapes beyond its own ConvShape and PoolShape, or gradients.
// tensor's CPU backend is built on it, nn's optimizers call its fused
// SGD and Adam steps, and the vmdls command's bench and info read it.
//
// The entry points are Sgemm (row-major C = alpha·op(A)·op(B) + beta·C),
// Conv2d and Conv2dBackward (with Im2col and Col2im beneath them),
// MaxPool2d and AvgPool2d with their backward passes, the elementwise
// kernels (Add, Mul, Axpy, Relu, Exp, ...) and the reductions Sum, Sum64 and
// Max. The parallel kernels split their work over the process-wide worker
// pool of package parallel, which callers above share for their own loops.
//
// Conventions: matrices are row-major with explicit leading dimensions;
// images are NCHW; outputs are caller-allocated slices. A length
// or shape that does not fit is a programming error and panics with a
// message naming the kernel and the argument; nothing here returns an error.
//
// Every assembly kernel has a pure-Go twin (an unexported function named
// with the suffix Generic) that is both the fallback on CPUs without
// AVX2+FMA and the oracle the assembly is tested against. The path is chosen
// once at start-up from the CPU's features (AVX-512 for the SGEMM
// micro-kernel where present, else AVX2+FMA, else pure Go); setting the
// environment variable VMDLS_KERNELS (EnvKernels) to "generic" forces the
// pure-Go path and "avx2" keeps AVX2+FMA without AVX-512. Path and Info say
// what was chosen; SetPath switches paths for tests and benchmarks. The
// build tag purego leaves the assembly out of the binary altogether, for
// toolchains or reviews that want none (the convention of gonum, klauspost
// and x/crypto); CI vets and tests that build.
package kernels
