// Package safetensors reads and writes the safetensors format that PyTorch's
// ecosystem uses to exchange weights: an 8-byte little-endian header length
// N, N bytes of JSON header mapping each tensor name to {"dtype", "shape",
// "data_offsets"} (plus an optional "__metadata__" object of string values),
// then the raw little-endian tensor data, offsets counted from the end of the
// header.
//
// It is a leaf package: it depends on the standard library only and knows
// nothing of the engine's tensors, so nn (checkpoints), internal/golden (the
// PyTorch goldens) and ovd use it alike. ReadFile, ReadFrom and Parse give a
// File whose tensors are looked up by name; ReadHeader and ReadHeaderFrom
// give the same validated description (names, dtypes, shapes, offsets,
// metadata) without reading any tensor data. WriteFile and Encode write
// Tensors made with FromFloat32, FromFloat64 or FromInt64.
//
// The reader treats every file as untrusted. It refuses anything but a
// regular file before opening it (a FIFO would block the open), bounds the
// header before allocating anything (MaxHeader), and validates every
// offset, shape and dtype against the bytes actually present. As in the
// reference implementation, the tensors must cover the data section
// exactly: holes, overlaps and trailing bytes are errors. Only then are the
// tensors' spans read, each into its own allocation, so nothing is
// allocated beyond the declared sizes, and those are backed by the file.
// Errors name the file and the tensor instead of panicking; those that
// report a malformed file match ErrFormat. The writer is atomic: a
// temporary file in the same directory, fsync, rename, fsync of the
// directory.
//
// Supported dtypes are F32, F64 and I64 (PyTorch's float32 weights, float64
// statistics and int64 counters such as BatchNorm's num_batches_tracked).
package safetensors
