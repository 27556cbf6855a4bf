package main

import (
	"io"
	"strings"
	"testing"
)

// TestReferenceFitFlag checks that test and fit take --reference_fit into
// the run's configuration (off by default) and that train, which has no
// test-time fit, refuses it.
func TestReferenceFitFlag(t *testing.T) {
	if m := dryRun(t, "test", mnistArgs...); m["reference_fit"] != false {
		t.Errorf("test: reference_fit = %v by default, want false", m["reference_fit"])
	}
	if m := dryRun(t, "test", append(mnistArgs, "--reference_fit")...); m["reference_fit"] != true {
		t.Errorf("test --reference_fit: reference_fit = %v, want true", m["reference_fit"])
	}
	if m := dryRun(t, "fit", append(mnistArgs, "--reference_fit", "--out", "d.safetensors")...); m["reference_fit"] != true {
		t.Errorf("fit --reference_fit: reference_fit = %v, want true", m["reference_fit"])
	}
	err := run(append([]string{"train", "--dry_run", "--reference_fit"}, mnistArgs...), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "reference_fit") {
		t.Errorf("train --reference_fit: %v, want an error naming the flag", err)
	}
}
