//go:build cuda

package cuda

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/vmdls-go/vmdls/tensor"
)

// Available reports whether this binary has the GPU backend.
const Available = true

// Init starts the GPU (context, cuBLAS handle) and returns what it found.
// The backend starts it on first use anyway; Init reports failures as an
// error instead of a panic in the first op.
func Init() (Info, error) {
	g, err := getGPU()
	if err != nil {
		return Info{}, err
	}
	return g.info, nil
}

// Stats returns the caching allocator's bookkeeping.
func Stats() AllocStats { return mustGPU().alloc.Stats() }

// SelfTest prints the device, compiles the kernels, then runs every GPU op
// against the CPU backend on random inputs (SGEMM at n=1024) and prints one
// line per check and PASS, or the first mismatch as the error.
func SelfTest(w io.Writer) error {
	in, err := Init()
	if err != nil {
		fmt.Fprintf(w, "FAIL: %v\n", err)
		return err
	}
	fmt.Fprint(w, in)
	g := mustGPU()
	t0 := time.Now()
	if err := g.do(func() error { _, err := g.function("vm_fill"); return err }); err != nil {
		fmt.Fprintf(w, "FAIL: NVRTC: %v\n", err)
		return err
	}
	how := "compiled"
	if g.cubinCached {
		how = "loaded the cached CUBIN of" // VMDLS_CUDA_CACHE=off compiles
	}
	fmt.Fprintf(w, "nvrtc:    %s %d bytes of CUDA C for %s in %v\n", how, len(kernelSource()), in.Architecture, time.Since(t0).Round(time.Millisecond))
	err = runSelfTest(Device, selfTestCases(1024), w)
	if rerr := checkReduceKernels(w); err == nil {
		err = rerr
	}
	st := Stats()
	fmt.Fprintf(w, "allocator: %d device allocations, %d cache hits, peak %.1f MiB\n", st.Mallocs, st.Hits, float64(st.PeakBytes)/(1<<20))
	return err
}

// checkReduceKernels checks the max and min reduction kernels, which no
// public tensor op reaches except MaxAll, and the sum and log-sum-exp ones
// on both launch shapes, by calling the backend directly on storages it
// allocated, against the CPU tensor ops.
func checkReduceKernels(w io.Writer) error {
	r := rand.New(rand.NewPCG(7, 7))
	for _, op := range []tensor.ReduceOp{tensor.RMax, tensor.RMin, tensor.RSum, tensor.RLogSumExp} {
		for _, sh := range [][3]int{{30, 50, 7}, {3, 5000, 1}} {
			x := tensor.Uniform(r, -3, 3, sh[:]...)
			var want *tensor.Tensor
			switch op {
			case tensor.RMax:
				want, _ = tensor.Max(x, 1, false)
			case tensor.RMin:
				want, _ = tensor.Min(x, 1, false)
			case tensor.RSum:
				want = tensor.Sum(x, false, 1)
			default:
				want = tensor.LogSumExp(x, 1, false)
			}
			be := backend{}
			n, nout := x.Numel(), sh[0]*sh[2]
			xs, ds := be.Alloc(n), be.Alloc(nout)
			be.Upload(tensor.Buf{S: xs, N: n}, x.Data())
			be.Reduce(op, tensor.Buf{S: ds, N: nout}, tensor.Buf{S: xs, N: n}, sh[0], sh[1], sh[2])
			got := make([]float32, nout)
			be.Download(got, tensor.Buf{S: ds, N: nout})
			name := fmt.Sprintf("reduce kernel %s over %v", reduceNames[op], sh)
			if msg := mismatch(got, want.Data(), rtolElementwise, true); msg != "" {
				fmt.Fprintf(w, "FAIL  %s: %s\n", name, msg)
				return fmt.Errorf("cuda self-test: %s: %s", name, msg)
			}
			fmt.Fprintf(w, "ok    %s\n", name)
		}
	}
	return nil
}

// BenchGemm times n×n SGEMMs through cuBLAS (C = A·B, float32, cuBLAS's
// default math mode, which does not use TF32) and returns the median of
// reps timed runs, each repeating the product for at least 0.2 s.
func BenchGemm(n, reps int) (GemmResult, error) {
	g, err := getGPU()
	if err != nil {
		return GemmResult{}, err
	}
	res := GemmResult{N: n, Reps: reps, Device: g.info.Name}
	err = protect(func() error {
		be := backend{}
		r := rand.New(rand.NewPCG(1, 2))
		a, b, c := be.Alloc(n*n), be.Alloc(n*n), be.Alloc(n*n)
		be.Upload(tensor.Buf{S: a, N: n * n}, tensor.Uniform(r, -1, 1, n, n).Data())
		be.Upload(tensor.Buf{S: b, N: n * n}, tensor.Uniform(r, -1, 1, n, n).Data())
		prod := func() { be.Gemm(false, false, n, n, n, 1, a, []int{0}, n, b, []int{0}, n, 0, c, []int{0}, n) }
		prod() // warm-up: cuBLAS picks and loads its kernel
		if err := g.do(g.sync); err != nil {
			return err
		}
		inner := 1
		for {
			t0 := time.Now()
			for range inner {
				prod()
			}
			if err := g.do(g.sync); err != nil {
				return err
			}
			if time.Since(t0) >= 200*time.Millisecond || inner >= 1<<16 {
				break
			}
			inner *= 2
		}
		secs := make([]float64, reps)
		for i := range secs {
			t0 := time.Now()
			for range inner {
				prod()
			}
			if err := g.do(g.sync); err != nil {
				return err
			}
			secs[i] = time.Since(t0).Seconds() / float64(inner)
		}
		slices.Sort(secs)
		res.Seconds = secs[len(secs)/2]
		res.GFLOPS = 2 * float64(n) * float64(n) * float64(n) / res.Seconds / 1e9
		return nil
	})
	return res, err
}
