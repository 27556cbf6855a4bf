package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vmdls-go/vmdls/cuda"
)

// The reference's --gpus flag.

// gpuRequest is a parsed --gpus value.
type gpuRequest struct {
	// IDs lists the devices asked for; nil with All false and Count 0
	// means the CPU.
	IDs   []int
	Count int
	All   bool
}

// wantsGPU reports whether the request names any device.
func (g gpuRequest) wantsGPU() bool { return len(g.IDs) > 0 || g.Count > 0 || g.All }

// parseGPUs reads --gpus the way PyTorch Lightning 1.1 does: empty or
// "None" is the CPU, "0,"/"1,3" list device ids, an integer n asks for n
// devices (0 none, -1 all).
func parseGPUs(s string) (gpuRequest, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "None" {
		return gpuRequest{}, nil
	}
	if strings.Contains(s, ",") {
		var g gpuRequest
		for _, p := range strings.Split(s, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			id, err := strconv.Atoi(p)
			if err != nil || id < 0 {
				return g, fmt.Errorf("want device ids such as \"0,\" or \"0,1\", or a count")
			}
			g.IDs = append(g.IDs, id)
		}
		return g, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < -1 {
		return gpuRequest{}, fmt.Errorf("want device ids such as \"0,\" or \"0,1\", a count, or -1 for all")
	}
	if n == -1 {
		return gpuRequest{All: true}, nil
	}
	return gpuRequest{Count: n}, nil
}

// applyGPUs hands --gpus to the CUDA build, or warns once that this build
// runs on the CPU.
func (o *runOptions) applyGPUs(stderr io.Writer) error {
	req, _ := parseGPUs(o.gpus.String())
	if !req.wantsGPU() {
		return nil
	}
	if !cuda.Available {
		fmt.Fprintf(stderr, "vmdls: warning: --gpus %q: this build has no CUDA support (build with -tags cuda); running on the CPU\n", o.gpus.String())
		return nil
	}
	if err := selectGPU(req); err != nil {
		return usageErrorf("%s: --gpus %q: %v", o.cmd, o.gpus.String(), err)
	}
	return nil
}
