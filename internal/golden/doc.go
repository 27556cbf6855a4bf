// Package golden reads the PyTorch reference files in internal/golden/testdata, which
// testdata/gen_golden.py writes and the repository commits, so that tests (of autograd, nn,
// nn/backbone and bench/nets) can compare against PyTorch without running Python.
//
// The files are safetensors: an 8-byte little-endian header length N, N bytes of JSON
// header mapping each tensor name to {"dtype", "shape", "data_offsets"} (plus a
// "__metadata__" object of string values), then the raw little-endian data. Only F32
// tensors are accepted. A file holds cases; case c has tensors c.in0, c.in1, ... (inputs),
// c.out (forward output), c.indices (max/min only), c.w (the upstream weight of the loss
// (out*w).sum()) and c.grad<i> (gradient of that loss with respect to input i), and its
// parameters as a JSON object in __metadata__[c]. See README.md.
//
// The container format is read and validated by package safetensors; every error names
// the file and, where there is one, the tensor or case.
//
// The package is test support: it imports safetensors only, and only test files of other
// packages import it, so no library or command depends on it. Load (or LoadBytes) gives a
// File of Cases, and Path names a file of the testdata directory.
package golden
