package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vmdls-go/vmdls/cuda"
	"github.com/vmdls-go/vmdls/tensor"
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

// applyGPUs turns --gpus into the run's device (ovd.Config.Device): the
// GPU in a CUDA build, the CPU with a warning in a build without one.
func (o *runOptions) applyGPUs(stderr io.Writer) error {
	d, err := gpuDevice(o.cmd, o.gpus.String(), stderr)
	if err != nil {
		return err
	}
	o.cfg.Device = d
	return nil
}

// testDevice, when a test sets it, is the device --gpus selects instead of
// a GPU: the command tests set it to the fake device (tensor/fakedevice),
// whose storage the host cannot address, so that train and test run end to
// end on a device, through the code a CUDA build's --gpus takes, on a
// machine without one. Nothing but tests sets it.
var testDevice *tensor.Device

// gpuDevice returns the device the --gpus value asks for: the CPU when it
// names none; cuda.Device in a CUDA build, after starting it so that a
// missing driver or a bad id fails before any work; and in a build without
// CUDA the CPU, with a warning (printed once per command) that says so.
func gpuDevice(cmd, flag string, stderr io.Writer) (tensor.Device, error) {
	req, err := parseGPUs(flag)
	if err != nil {
		return tensor.CPU, usageErrorf("%s: --gpus %q: %v", cmd, flag, err)
	}
	switch {
	case !req.wantsGPU():
		return tensor.CPU, nil
	case testDevice != nil:
		fmt.Fprintf(stderr, "vmdls: --gpus %q: running on the %v device (a test's stand-in for a GPU)\n", flag, *testDevice)
		return *testDevice, nil
	case !cuda.Available:
		fmt.Fprintf(stderr, "vmdls: warning: --gpus %q: this build has no CUDA support (build with -tags cuda); running on the CPU\n", flag)
		return tensor.CPU, nil
	}
	if err := selectGPU(req, stderr); err != nil {
		return tensor.CPU, usageErrorf("%s: --gpus %q: %v", cmd, flag, err)
	}
	return cuda.Device, nil
}
