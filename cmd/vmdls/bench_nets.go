package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/vmdls-go/vmdls/bench/nets"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/parallel"
)

// runBenchNet times a training step (bench "train-step") or an inference
// pass (bench "infer") as ../shared/anchors/nets.py times PyTorch's
// (mnist-conv with the latent heads, the CIFAR encoders bare), and prints
// one JSON line.
func runBenchNet(bench string, args []string, stdout, stderr io.Writer) error {
	fs := commandFlags("bench " + bench)
	encType := fs.String("enc_type", "mnist-conv", "encoder: "+strings.Join(backbone.EncTypes(), ", "))
	defBatch := 160
	if bench == "infer" {
		defBatch = 2500
	}
	batch := fs.Int("batch_size", defBatch, "images per step (mnist-conv training: a multiple of 10, the stand-in loss's classes)")
	threads := fs.Int("threads", 0, "workers of the kernels and Go scheduler threads (0: all CPUs)")
	steps := fs.Int("steps", 10, "timed steps; the median is reported")
	warmup := fs.Int("warmup", 3, "untimed steps first")
	clean := fs.Float64("clean", 0.25, "keep only steps during which other processes used fewer cores than this, as nets.py does (0: time every step, nets.py's --no-gate)")
	budget := fs.Duration("budget", 300*time.Second, "with --clean, stop collecting clean steps after this long")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the warm-up and timed steps to this file (go tool pprof reads it)")
	peak := fs.Float64("peak_gflops", 0, "with --profile: the machine's FMA peak in GFLOP/s for the threads used (../shared/anchors/fma_peak.c), to report each convolution shape's fraction of it")
	gpus := fs.String("gpus", "", `CUDA devices as train's --gpus ("0,"): run the steps on the GPU (a CPU-only build warns and runs on the CPU)`)
	opProfile := fs.Bool("profile", false, "time the timed steps' primitives by category (conv forward, input and weight gradients, batch norm, ...) and add the per-step table to the JSON line, as nets.py --profile lists PyTorch's ops")
	if err := fs.Parse(args); err != nil {
		return parseFailed("bench "+bench+" [flags]", fs, err, stdout)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench %s: unexpected argument %q", bench, fs.Arg(0))
	}
	if *threads < 0 {
		return fmt.Errorf("bench %s: --threads = %d, want 0 (all CPUs) or more", bench, *threads)
	}
	if !(*peak >= 0) || math.IsInf(*peak, 1) || (*peak > 0 && !*opProfile) {
		return usageErrorf("bench %s: --peak_gflops = %v, want a finite GFLOP/s >= 0, given with --profile", bench, *peak)
	}
	if !isEncType(*encType) {
		return fmt.Errorf("bench %s: --enc_type %q is not supported (supported: %s)", bench, *encType, strings.Join(backbone.EncTypes(), ", "))
	}
	dev, err := gpuDevice("bench "+bench, *gpus, stderr)
	if err != nil {
		return err
	}
	n := *threads
	if n == 0 {
		n = runtime.NumCPU()
	}
	// PyTorch is given n threads in all; the Go side gets n kernel workers
	// and n threads running Go code (the collector's included).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
	defer parallel.SetThreads(parallel.SetThreads(n))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench %s: --cpuprofile: %w", bench, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench %s: --cpuprofile %s: %w", bench, *cpuProfile, err)
		}
		defer pprof.StopCPUProfile()
	}
	res, err := nets.Run(bench, *encType, *batch, n, nets.Options{Steps: *steps, Warmup: *warmup, Clean: *clean, Budget: *budget, Profile: *opProfile, PeakGFLOPS: *peak, Device: dev})
	if err != nil {
		return fmt.Errorf("bench %s: %w", bench, err)
	}
	return json.NewEncoder(stdout).Encode(res)
}

func isEncType(name string) bool {
	for _, e := range backbone.EncTypes() {
		if e == name {
			return true
		}
	}
	return false
}
