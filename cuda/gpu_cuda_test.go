//go:build cuda

package cuda

import (
	"os"
	"strconv"
	"testing"
)

// These run only in the cuda test binary, on the GPU machine
// (scripts/gpu-check.sh).

func TestGPUSelfTest(t *testing.T) {
	if err := SelfTest(os.Stdout); err != nil {
		t.Fatal(err)
	}
}

func TestGPUBenchGemm(t *testing.T) {
	n := 1024
	if s := os.Getenv("VMDLS_GEMM_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	r, err := BenchGemm(n, 5)
	if err != nil {
		t.Fatal(err)
	}
	if r.GFLOPS <= 0 {
		t.Fatalf("no throughput measured: %+v", r)
	}
	t.Logf("cuBLAS SGEMM n=%d on %s: %.1f GFLOP/s (%.3f ms per product)", n, r.Device, r.GFLOPS, r.Seconds*1e3)
}
