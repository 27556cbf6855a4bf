package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchServe: the library's offline throughput, then a short load
// run per client count, each one JSON line with answered requests, no errors and ordered percentiles, and the
// batcher's mean batch; bad flags exit 2 naming the flag.
func TestBenchServe(t *testing.T) {
	fx := toyDetector(t)
	var out, errb bytes.Buffer
	args := []string{"bench", "serve", "--detector", fx.detPath, "--data_dir", fx.dataDir, "--input", "mnist:test",
		"--limit", "8", "--clients", "1,4", "--duration", "300ms", "--max_requests", "200"}
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3: %q", len(lines), out.String())
	}
	var off offlineResult
	if err := json.Unmarshal([]byte(lines[0]), &off); err != nil || off.Bench != "serve-offline" || off.Images < off.Batch || !(off.ImagesPerSec > 0) {
		t.Errorf("offline line %q: %+v %v", lines[0], off, err)
	}
	for i, want := range []int{1, 4} {
		var r serveBenchResult
		if err := json.Unmarshal([]byte(lines[i+1]), &r); err != nil {
			t.Fatal(err)
		}
		if r.Clients != want || r.Requests < 1 || r.Requests > 200 || r.Errors != 0 || !(r.ImagesPerSec > 0) ||
			!(r.P50ms > 0 && r.P50ms <= r.P99ms) || !(r.MeanBatch >= 1 && r.MeanBatch <= float64(want)) {
			t.Errorf("line %d: %+v", i, r)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "serve"}, "--detector"},
		{[]string{"bench", "serve", "--detector", fx.detPath, "--clients", "0"}, "--clients"},
		{[]string{"bench", "serve", "--detector", fx.detPath, "--url", "http://x"}, "--url"},
		{[]string{"bench", "serve", "--detector", fx.detPath, "--data_dir", fx.dataDir, "--input", "mnist:nope"}, "--input"},
	} {
		err := run(c.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want exit 2 naming %q", c.args, err, exitCode(err), c.want)
		}
	}
}
