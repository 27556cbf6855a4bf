// Package tensor is the engine's N-dimensional float32 array: a shape, a
// contiguous row-major storage and the device that storage lives on, with
// the ops the layers and autograd are built from. Of the module it imports
// kernels (the CPU backend's loops) and parallel (the worker pool); autograd,
// nn, data, ovd and the backends beside it (cuda) build on it. It records
// no gradients, which is autograd's job.
//
// Tensors are made with FromSlice, Zeros, Ones, Full, Arange, Scalar and the
// random constructors Rand, Uniform, Randn and Normal, which draw from a
// caller-supplied *rand.Rand (math/rand/v2) so that a seed fixes every
// value; nothing in the module draws from a global source. Images are NCHW
// ([batch, channels, height, width]) as in PyTorch: Conv2d, MaxPool2d,
// AvgPool2d, BatchNorm2d and ConvTranspose2d take and return that layout,
// and Linear and MatMul work on row-major [rows, features] matrices.
//
// Every op is written once against the Backend interface; the CPU backend in
// this package computes with the kernels package and a CUDA backend plugs in
// through RegisterBackend. The CPU backend only adapts (Bufs to slices,
// strided views to runs, long runs split over the worker pool): every loop
// that computes, down to the scalar maps and the float64 sums, is in
// kernels, so that CPU arithmetic has one home beside its SIMD code and the
// op codes (UnaryOp, BinaryOp, ReduceOp) are kernels' own, which every
// backend implements. A separate CPU package beside cuda was the other
// choice; it would have had to register itself, as cuda does, leaving
// tensor with no device of its own. Semantics (broadcasting, NaN handling, tie
// breaking, pow, clamp, softmax) follow PyTorch 1.13. Misuse panics with a
// *ShapeError naming the op and every shape involved; Catch converts such a
// panic into an error.
//
// Ops return new tensors; only Reshape (View), Flatten, Squeeze, Unsqueeze
// and Slice return views that share storage with their operand, and only the
// methods documented as in-place modify their receiver. Data exposes the CPU
// storage itself, not a copy, and panics for a tensor on another device;
// Host gives the values on the host on any device (the storage itself on
// the CPU). To copies a tensor to a device and MoveTo moves one in place.
// Package tensor/fakedevice registers a second host-memory device that
// tests use to find code that still reaches into host memory. A tensor may
// be read from several goroutines at once but must not be written while it
// is read.
package tensor
