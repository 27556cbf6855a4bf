//go:build !cuda

package main

import (
	"fmt"
	"io"
)

// cudaAvailable says whether this binary was built with the GPU backend.
const cudaAvailable = false

var errNoCUDA = fmt.Errorf("this vmdls was built without the cuda build tag; rebuild with scripts/build-cuda.sh")

// cudaInfo reports that there is no GPU backend in this binary.
func cudaInfo(w io.Writer) error {
	fmt.Fprintln(w, "gpu:      none (built without the cuda tag)")
	return nil
}

// cudaSelfTest reports that there is nothing to test.
func cudaSelfTest(w io.Writer) error { return errNoCUDA }

// cudaBenchGemm reports that there is no GPU path to time.
func cudaBenchGemm(n, reps int, w io.Writer) error { return errNoCUDA }
