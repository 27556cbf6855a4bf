// Package parallel is the engine's process-wide worker pool: For splits a
// range of indices into chunks and runs them on a fixed set of long-lived
// workers, and SetThreads and Threads say how many workers that is.
//
// It is the ground floor of the module: it imports no other package of the
// module, and every package that splits work over the cores (kernels for its
// SGEMM, convolutions and reductions, tensor, data, ovd and ovd/losses)
// imports it, so that all of them share the same workers instead of
// oversubscribing the cores, and so that a package needing only the pool
// need not import the compute kernels to get it.
//
// Calls nest and may come from several goroutines at once: a caller that
// finds every worker busy runs its chunks itself, so a For inside a For body
// cannot deadlock. Once warm, a call allocates nothing.
package parallel
