package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/vmdls-go/vmdls/cuda"
	"github.com/vmdls-go/vmdls/kernels"
	"github.com/vmdls-go/vmdls/tensor/memtune"
)

// runInfo prints what the engine found about the machine, as text or JSON.
func runInfo(args []string, w io.Writer) error {
	fs := commandFlags("info")
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	selfTest := fs.Bool("selftest", false, "run every GPU op against the CPU backend (a cuda build) and print PASS or the first mismatch")
	checkpoint := fs.String("checkpoint", "", "describe this checkpoint (safetensors or PyTorch) instead: keys, epoch, the settings it was trained with, hyper_parameters")
	if err := fs.Parse(args); err != nil {
		return parseFailed("info [--json] [--selftest] | info --checkpoint FILE [--json]", fs, err, w)
	}
	if fs.NArg() > 0 {
		return usageErrorf("info: unexpected argument %q (flags are --name value)", fs.Arg(0))
	}
	if *checkpoint != "" {
		return runInfoCheckpoint(*checkpoint, *asJSON, w)
	}
	ci := kernels.Info()
	if *asJSON {
		v, rev, modified := buildVersion()
		return json.NewEncoder(w).Encode(struct {
			Version  string `json:"version"`
			Revision string `json:"revision,omitempty"`
			Modified bool   `json:"modified,omitempty"`
			Go       string `json:"go"`
			CUDA     bool   `json:"cuda"`
			kernels.CPUInfo
		}{v, rev, modified, runtime.Version(), cuda.Available, ci})
	}
	kb := func(b int) string {
		if b < 0 {
			return "unknown"
		}
		return fmt.Sprintf("%d KiB", b/1024)
	}
	fmt.Fprintln(w, versionString())
	fmt.Fprintf(w, "cpu:      %s, %d logical CPUs, %d kernel threads\n", ci.Brand, ci.CPUs, ci.Threads)
	fmt.Fprintf(w, "features: %s\n", strings.Join(ci.Features, " "))
	fmt.Fprintf(w, "caches:   L1d %s, L2 %s, L3 %s\n", kb(ci.L1DBytes), kb(ci.L2Bytes), kb(ci.L3Bytes))
	fmt.Fprintf(w, "kernels:  %s (set %s=generic to force pure Go)\n", ci.KernelPath, kernels.EnvKernels)
	if runtime.GOOS == "linux" {
		if memtune.PagesReturnedLazily() {
			fmt.Fprintln(w, "memory:   freed pages returned lazily (GODEBUG=madvdontneed=0)")
		} else {
			fmt.Fprintln(w, "memory:   freed pages returned at once (the runtime's default)")
		}
	}
	if err := cudaInfo(w); err != nil && *selfTest {
		return err
	}
	if *selfTest {
		return cudaSelfTest(w)
	}
	return nil
}
