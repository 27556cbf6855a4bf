package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchGemm runs bench gemm on a tiny shape and checks its one JSON line.
func TestBenchGemm(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run([]string{"bench", "gemm", "--m", "7", "--n", "9", "--k", "5", "--threads", "1", "--reps", "3",
		"--min-run", "1ms", "--transb", "--path", "generic"}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench gemm: %v (stderr %q)", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line of output, got %q", out.String())
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatalf("output %q is not JSON: %v", lines[0], err)
	}
	for key, want := range map[string]any{"op": "sgemm", "m": 7.0, "n": 9.0, "k": 5.0, "threads": 1.0, "path": "generic", "transb": true} {
		if r[key] != want {
			t.Errorf("%s = %v, want %v", key, r[key], want)
		}
	}
	for _, key := range []string{"gflops", "seconds", "min", "max"} {
		v, ok := r[key].(float64)
		if !ok || !(v > 0) {
			t.Errorf("%s = %v, want a positive number", key, r[key])
		}
	}
	if r["min"].(float64) > r["gflops"].(float64) || r["gflops"].(float64) > r["max"].(float64) {
		t.Errorf("want min <= gflops <= max, got %v", r)
	}
}

// TestBenchGemmBadFlags checks that each bad flag is named in the error.
func TestBenchGemmBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--n", "4", "--k", "4"}, "--m"},
		{[]string{"--m", "4", "--n", "-1", "--k", "4"}, "--n"},
		{[]string{"--m", "4", "--n", "4", "--k", "4", "--reps", "0"}, "--reps"},
		{[]string{"--m", "4", "--n", "4", "--k", "4", "--threads", "-2"}, "--threads"},
		{[]string{"--m", "4", "--n", "4", "--k", "4", "--path", "sse9"}, "--path"},
		{[]string{"--m", "4", "--n", "4", "--k", "4", "--bogus"}, "bogus"},
		{[]string{"--m", "x"}, "-m"},
	} {
		var out, errOut bytes.Buffer
		err := run(append([]string{"bench", "gemm"}, tc.args...), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("args %q: error %v, want one naming %s", tc.args, err, tc.want)
		}
	}
	if err := run([]string{"bench", "deconv"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "deconv") {
		t.Errorf("bench deconv: error %v, want one naming the unknown benchmark", err)
	}
}

func TestBenchConv(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"bench", "conv", "--batch", "2", "--cin", "3", "--cout", "4", "--h", "8", "--w", "8", "--reps", "1"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	var r convResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if r.Op != "conv2d" || r.N != 2 || r.C != 3 || r.K != 4 || !(r.GFLOPS > 0) || !(r.Seconds > 0) {
		t.Errorf("result %+v", r)
	}
	for _, args := range [][]string{{"--kernel", "9", "--h", "4", "--w", "4", "--pad", "0"}, {"--batch", "0"}} {
		if err := run(append([]string{"bench", "conv"}, args...), &out, &errb); err == nil {
			t.Errorf("bench conv %v: no error", args)
		}
	}
}
