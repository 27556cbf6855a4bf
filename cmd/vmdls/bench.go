package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/vmdls-go/vmdls/kernels"
)

// runBench runs the micro-benchmark named by args[0].
func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("bench: name a benchmark (gemm, train-step, infer)")
	}
	switch args[0] {
	case "gemm", "sgemm":
		return runBenchGemm(args[1:], stdout, stderr)
	case "train-step", "infer":
		return runBenchNet(args[0], args[1:], stdout, stderr)
	default:
		return fmt.Errorf("bench: unknown benchmark %q (want gemm, train-step or infer)", args[0])
	}
}

// gemmResult is the JSON line bench gemm prints. GFLOP/s counts 2*m*n*k
// floating-point operations per product.
type gemmResult struct {
	Op      string  `json:"op"`
	M       int     `json:"m"`
	N       int     `json:"n"`
	K       int     `json:"k"`
	TransA  bool    `json:"transa"`
	TransB  bool    `json:"transb"`
	Threads int     `json:"threads"`
	Path    string  `json:"path"`
	GFLOPS  float64 `json:"gflops"`  // median over the timed runs
	Seconds float64 `json:"seconds"` // one product, median run
	Min     float64 `json:"min"`     // GFLOP/s of the slowest run
	Max     float64 `json:"max"`     // GFLOP/s of the fastest run
	Reps    int     `json:"reps"`
	Inner   int     `json:"inner"` // products per timed run
}

// runBenchGemm times C = alpha*op(A)*op(B) on random matrices: after the
// warm-up, each of reps timed runs repeats the product enough times to last
// at least minRun, and the median run is reported.
func runBenchGemm(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench gemm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	m := fs.Int("m", 0, "rows of op(A) and C (required)")
	n := fs.Int("n", 0, "columns of op(B) and C (required)")
	k := fs.Int("k", 0, "columns of op(A), rows of op(B) (required)")
	threads := fs.Int("threads", 0, "workers (0: GOMAXPROCS)")
	reps := fs.Int("reps", 5, "timed runs; the median is reported")
	warmup := fs.Int("warmup", 1, "untimed runs first")
	transA := fs.Bool("transa", false, "A is stored transposed (k×m)")
	transB := fs.Bool("transb", false, "B is stored transposed (n×k)")
	path := fs.String("path", "auto", "kernel path: auto, avx512, avx2 or generic")
	minRun := fs.Duration("min-run", 200*time.Millisecond, "shortest timed run")
	device := fs.String("device", "cpu", "cpu, or cuda (a cuda build: cuBLAS SGEMM of n×n matrices)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *device {
	case "cpu":
	case "cuda":
		if *n < 1 {
			return fmt.Errorf("bench gemm --device cuda: --n = %d, want the size of the square product", *n)
		}
		return cudaBenchGemm(*n, *reps, stdout)
	default:
		return fmt.Errorf("bench gemm: --device %q, want cpu or cuda", *device)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench gemm: unexpected argument %q", fs.Arg(0))
	}
	for _, f := range []struct {
		name string
		v    int
		min  int
	}{{"--m", *m, 1}, {"--n", *n, 1}, {"--k", *k, 1}, {"--threads", *threads, 0}, {"--reps", *reps, 1}, {"--warmup", *warmup, 0}} {
		if f.v < f.min {
			return fmt.Errorf("bench gemm: %s = %d, want at least %d", f.name, f.v, f.min)
		}
	}
	if *minRun <= 0 {
		return fmt.Errorf("bench gemm: --min-run = %v, want a positive duration", *minRun)
	}
	prevPath, err := kernels.SetPath(*path)
	if err != nil {
		return fmt.Errorf("bench gemm: --path: %w", err)
	}
	defer kernels.SetPath(prevPath)
	prevThreads := kernels.SetThreads(*threads)
	defer kernels.SetThreads(prevThreads)

	M, N, K := *m, *n, *k
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(x []float32) {
		for i := range x {
			x[i] = rng.Float32()*2 - 1
		}
	}
	a, b, c := make([]float32, M*K), make([]float32, K*N), make([]float32, M*N)
	fill(a)
	fill(b)
	lda, ldb := K, N
	if *transA {
		lda = M
	}
	if *transB {
		ldb = K
	}
	product := func() { kernels.Sgemm(*transA, *transB, M, N, K, 1, a, lda, b, ldb, 0, c, N) }

	for range *warmup {
		product()
	}
	// Calibrate the products per timed run from one timed product.
	t0 := time.Now()
	product()
	one := time.Since(t0)
	inner := max(1, int(*minRun/max(one, time.Microsecond))+1)
	flop := 2 * float64(M) * float64(N) * float64(K)
	per := make([]float64, *reps) // seconds per product
	for r := range per {
		t0 := time.Now()
		for range inner {
			product()
		}
		per[r] = time.Since(t0).Seconds() / float64(inner)
	}
	slices.Sort(per)
	med := per[len(per)/2]
	if len(per)%2 == 0 {
		med = (per[len(per)/2-1] + per[len(per)/2]) / 2
	}
	res := gemmResult{
		Op: "sgemm", M: M, N: N, K: K, TransA: *transA, TransB: *transB,
		Threads: kernels.Threads(), Path: kernels.Path(),
		GFLOPS: flop / med / 1e9, Seconds: med,
		Min: flop / per[len(per)-1] / 1e9, Max: flop / per[0] / 1e9,
		Reps: *reps, Inner: inner,
	}
	return json.NewEncoder(stdout).Encode(res)
}
