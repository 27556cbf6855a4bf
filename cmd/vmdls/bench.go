package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/vmdls-go/vmdls/kernels"
	"github.com/vmdls-go/vmdls/parallel"
)

// runBench runs the micro-benchmark named by args[0].
func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		benchCommands.help(stderr)
		return usageErrorf("bench: name a benchmark (gemm, conv, train-step, infer)")
	}
	if isHelpArg(args[0]) {
		benchCommands.help(stdout)
		return errHelpShown
	}
	switch args[0] {
	case "gemm", "sgemm":
		return runBenchGemm(args[1:], stdout, stderr)
	case "conv":
		return runBenchConv(args[1:], stdout, stderr)
	case "train-step", "infer":
		return runBenchNet(args[0], args[1:], stdout, stderr)
	case "serve":
		return runBenchServe(args[1:], stdout, stderr)
	default:
		return benchCommands.unknown(args[0])
	}
}

// timeRuns runs fn warmup times, then reps timed runs, each repeating fn
// enough times to last minRun (calibrated from one timed call). It returns
// the seconds per call of each run, sorted, their median and the calls per
// run.
func timeRuns(fn func(), warmup, reps int, minRun time.Duration) (per []float64, med float64, inner int) {
	for range warmup {
		fn()
	}
	t0 := time.Now()
	fn()
	one := time.Since(t0)
	inner = max(1, int(minRun/max(one, time.Microsecond))+1)
	per = make([]float64, reps)
	for r := range per {
		t0 := time.Now()
		for range inner {
			fn()
		}
		per[r] = time.Since(t0).Seconds() / float64(inner)
	}
	slices.Sort(per)
	med = per[len(per)/2]
	if len(per)%2 == 0 {
		med = (per[len(per)/2-1] + per[len(per)/2]) / 2
	}
	return per, med, inner
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
	fs := commandFlags("bench gemm")
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
		return parseFailed("bench gemm --m M --n N --k K [flags]", fs, err, stdout)
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
	prevThreads := parallel.SetThreads(*threads)
	defer parallel.SetThreads(prevThreads)

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

	per, med, inner := timeRuns(product, *warmup, *reps, *minRun)
	flop := 2 * float64(M) * float64(N) * float64(K)
	res := gemmResult{
		Op: "sgemm", M: M, N: N, K: K, TransA: *transA, TransB: *transB,
		Threads: parallel.Threads(), Path: kernels.Path(),
		GFLOPS: flop / med / 1e9, Seconds: med,
		Min: flop / per[len(per)-1] / 1e9, Max: flop / per[0] / 1e9,
		Reps: *reps, Inner: inner,
	}
	return json.NewEncoder(stdout).Encode(res)
}

// convResult is the JSON line bench conv prints. GFLOP/s counts
// 2·N·Cout·Cin·KH·KW·Hout·Wout operations per forward convolution.
type convResult struct {
	Op      string  `json:"op"`
	N       int     `json:"batch"`
	C       int     `json:"cin"`
	K       int     `json:"cout"`
	H       int     `json:"h"`
	W       int     `json:"w"`
	Kernel  int     `json:"kernel"`
	Stride  int     `json:"stride"`
	Pad     int     `json:"pad"`
	Threads int     `json:"threads"`
	Path    string  `json:"path"`
	GFLOPS  float64 `json:"gflops"`
	Seconds float64 `json:"seconds"`
	Reps    int     `json:"reps"`
}

// runBenchConv times the forward 2-D convolution (im2col + SGEMM, with
// bias) of random data; the defaults are mnist-conv's second layer at the
// paper's training batch.
func runBenchConv(args []string, stdout, stderr io.Writer) error {
	fs := commandFlags("bench conv")
	n := fs.Int("batch", 160, "images")
	c := fs.Int("cin", 100, "input channels")
	k := fs.Int("cout", 100, "output channels")
	h := fs.Int("h", 28, "input height (so here -h is this flag; -help and --help print the help)")
	w := fs.Int("w", 28, "input width")
	kern := fs.Int("kernel", 3, "square kernel size")
	stride := fs.Int("stride", 1, "stride")
	pad := fs.Int("pad", 1, "zero padding")
	threads := fs.Int("threads", 0, "workers (0: GOMAXPROCS)")
	reps := fs.Int("reps", 5, "timed runs; the median is reported")
	if err := fs.Parse(args); err != nil {
		return parseFailed("bench conv [flags]", fs, err, stdout)
	}
	for _, f := range []struct {
		name   string
		v, min int
	}{{"--batch", *n, 1}, {"--cin", *c, 1}, {"--cout", *k, 1}, {"--h", *h, 1}, {"--w", *w, 1}, {"--kernel", *kern, 1},
		{"--stride", *stride, 1}, {"--pad", *pad, 0}, {"--threads", *threads, 0}, {"--reps", *reps, 1}} {
		if f.v < f.min {
			return fmt.Errorf("bench conv: %s = %d, want at least %d", f.name, f.v, f.min)
		}
	}
	s := kernels.ConvShape{N: *n, C: *c, H: *h, W: *w, K: *k, KH: *kern, KW: *kern, SH: *stride, SW: *stride, PH: *pad, PW: *pad}
	if s.OutH() < 1 || s.OutW() < 1 {
		return fmt.Errorf("bench conv: a %d×%d kernel with padding %d does not fit a %d×%d input", *kern, *kern, *pad, *h, *w)
	}
	prevThreads := parallel.SetThreads(*threads)
	defer parallel.SetThreads(prevThreads)
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(x []float32) []float32 {
		for i := range x {
			x[i] = rng.Float32()*2 - 1
		}
		return x
	}
	x := fill(make([]float32, s.N*s.C*s.H*s.W))
	wt := fill(make([]float32, s.K*s.C*s.KH*s.KW))
	bias := fill(make([]float32, s.K))
	y := make([]float32, s.N*s.K*s.OutH()*s.OutW())
	_, med, _ := timeRuns(func() { kernels.Conv2d(s, y, x, wt, bias) }, 1, *reps, 200*time.Millisecond)
	flop := 2 * float64(s.N*s.K*s.C*s.KH*s.KW) * float64(s.OutH()*s.OutW())
	return json.NewEncoder(stdout).Encode(convResult{Op: "conv2d", N: s.N, C: s.C, K: s.K, H: s.H, W: s.W, Kernel: *kern,
		Stride: *stride, Pad: *pad, Threads: parallel.Threads(), Path: kernels.Path(), GFLOPS: flop / med / 1e9, Seconds: med, Reps: *reps})
}
