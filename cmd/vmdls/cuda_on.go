//go:build cuda

package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/vmdls-go/vmdls/cuda"
)

// cudaAvailable says whether this binary was built with the GPU backend.
const cudaAvailable = true

// cudaInfo appends the GPU report to `vmdls info`: driver version, device
// name, memory, compute capability, NVRTC version.
func cudaInfo(w io.Writer) error {
	in, err := cuda.Init()
	if err != nil {
		fmt.Fprintf(w, "gpu:      unavailable: %v\n", err)
		return err
	}
	fmt.Fprint(w, in)
	return nil
}

// cudaSelfTest runs the GPU self-test (`vmdls info --selftest`): every GPU
// op against the CPU, PASS or the first mismatch.
func cudaSelfTest(w io.Writer) error { return cuda.SelfTest(w) }

// cudaBenchGemm is `vmdls bench gemm --device cuda`: n×n cuBLAS SGEMM, one
// JSON line with GFLOP/s.
func cudaBenchGemm(n, reps int, w io.Writer) error {
	r, err := cuda.BenchGemm(n, reps)
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(struct {
		Op   string `json:"op"`
		Path string `json:"path"`
		cuda.GemmResult
	}{"sgemm", "cuda-cublas", r})
}
