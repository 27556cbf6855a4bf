package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchNets runs bench train-step and bench infer on small batches and
// checks their one JSON line each.
func TestBenchNets(t *testing.T) {
	for _, tc := range []struct {
		bench, batch string
		batchNum     float64
	}{{"train-step", "20", 20}, {"infer", "3", 3}} {
		var out, errOut bytes.Buffer
		err := run([]string{"bench", tc.bench, "--enc_type", "mnist-conv", "--batch_size", tc.batch,
			"--threads", "1", "--steps", "2", "--warmup", "1", "--clean", "0"}, &out, &errOut)
		if err != nil {
			t.Fatalf("bench %s: %v (stderr %q)", tc.bench, err, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 1 {
			t.Fatalf("bench %s: want one line of output, got %q", tc.bench, out.String())
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
			t.Fatalf("output %q is not JSON: %v", lines[0], err)
		}
		for key, want := range map[string]any{"bench": tc.bench, "enc_type": "mnist-conv", "batch_size": tc.batchNum, "threads": 1.0, "steps": 2.0} {
			if r[key] != want {
				t.Errorf("bench %s: %s = %v, want %v", tc.bench, key, r[key], want)
			}
		}
		for _, key := range []string{"images_per_s", "gflops", "peak_rss_mb", "s_med"} {
			if v, ok := r[key].(float64); !ok || !(v > 0) {
				t.Errorf("bench %s: %s = %v, want a positive number", tc.bench, key, r[key])
			}
		}
	}
}

func TestBenchNetsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "train-step", "--enc_type", "resnet-1000"}, `"resnet-1000" is not supported (supported: mnist-conv, vgg, resnet18, densenet, wresnet, resnet50, mnist, cifar)`},
		{[]string{"bench", "infer", "--enc_type", "VGG", "--batch_size", "1"}, "supported: mnist-conv, vgg"},
		{[]string{"bench", "train-step", "--batch_size", "25", "--steps", "1", "--warmup", "0", "--clean", "0"}, "multiple of the 10 classes"},
		{[]string{"bench", "infer", "--threads", "-1"}, "--threads"},
		{[]string{"bench", "infer", "extra"}, "unexpected argument"},
	} {
		var out, errOut bytes.Buffer
		err := run(tc.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// TestBenchNetsCIFAR checks the JSON line of a CIFAR encoder: nets.py's
// GFLOP count for resnet18 (1110.84 MFLOP an image forward). One full-size
// image, so it is left out of -short runs.
func TestBenchNetsCIFAR(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size resnet18 forward")
	}
	var out, errOut bytes.Buffer
	err := run([]string{"bench", "infer", "--enc_type", "resnet18", "--batch_size", "1",
		"--threads", "1", "--steps", "1", "--warmup", "0", "--clean", "0"}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench infer: %v (stderr %q)", err, errOut.String())
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("output %q is not JSON: %v", out.String(), err)
	}
	if r["enc_type"] != "resnet18" || r["params"] != 11168832.0 || r["gflop_per_step"] != 1.1108352 {
		t.Errorf("resnet18 line %v; want 11168832 parameters and 1.1108352 GFLOP a step", r)
	}
}
