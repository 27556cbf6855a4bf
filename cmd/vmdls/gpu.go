package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/vmdls-go/vmdls/cuda"
)

// The GPU parts of the commands call package cuda in every build: its
// entry points report cuda.ErrNotBuilt in a binary built without the cuda
// tag, so the command needs no build-tag twin of its own.

// errNoCUDA is what the command line says instead of cuda.ErrNotBuilt: how
// to get a binary that has the GPU backend.
var errNoCUDA = errors.New("this vmdls was built without the cuda build tag; rebuild with scripts/build-cuda.sh")

// cudaErr turns cuda.ErrNotBuilt into errNoCUDA and leaves other errors.
func cudaErr(err error) error {
	if errors.Is(err, cuda.ErrNotBuilt) {
		return errNoCUDA
	}
	return err
}

// cudaInfo appends the GPU report to `vmdls info`: driver version, device
// name, memory, compute capability, NVRTC version; or that this binary has
// no GPU backend.
func cudaInfo(w io.Writer) error {
	if !cuda.Available {
		fmt.Fprintln(w, "gpu:      none (built without the cuda tag)")
		return nil
	}
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
func cudaSelfTest(w io.Writer) error { return cudaErr(cuda.SelfTest(w)) }

// cudaBenchGemm is `vmdls bench gemm --device cuda`: n×n cuBLAS SGEMM, one
// JSON line with GFLOP/s.
func cudaBenchGemm(n, reps int, w io.Writer) error {
	r, err := cuda.BenchGemm(n, reps)
	if err != nil {
		return cudaErr(err)
	}
	return json.NewEncoder(w).Encode(struct {
		Op   string `json:"op"`
		Path string `json:"path"`
		cuda.GemmResult
	}{"sgemm", "cuda-cublas", r})
}

// selectGPU starts the device --gpus asks for, so that a missing driver or
// a bad device id fails before any work, and says on stderr where the run
// goes: the model, its optimizer state and the batches are moved to the
// GPU (ovd.Config.Device). It is called only in a build with the GPU
// backend (cuda.Available).
func selectGPU(req gpuRequest, stderr io.Writer) error {
	if len(req.IDs) > 1 || req.Count > 1 || (len(req.IDs) == 1 && req.IDs[0] != 0) {
		return fmt.Errorf("one GPU (device 0) is supported")
	}
	in, err := cuda.Init()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "vmdls: running on the GPU (%s, %s)\n", cuda.Device, in.Name)
	return nil
}
