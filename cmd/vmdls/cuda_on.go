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

// In a cuda build --gpus starts the device, so that a missing driver or a
// bad device id fails before any work. Training itself still runs on the
// CPU backend: convolution and whole training steps on the GPU are later
// floors of the GPU work, and the message says so.
func init() {
	selectGPU = func(req gpuRequest) error {
		if len(req.IDs) > 1 || req.Count > 1 || (len(req.IDs) == 1 && req.IDs[0] != 0) {
			return fmt.Errorf("one GPU (device 0) is supported")
		}
		in, err := cuda.Init()
		if err != nil {
			return err
		}
		fmt.Printf("vmdls: GPU %v ready; training and evaluation still run on the CPU backend in this version\n", in)
		return nil
	}
}
