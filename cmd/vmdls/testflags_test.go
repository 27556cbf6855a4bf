package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestTestFlags checks vmdls test's own flags in a dry run: the defaults
// (every baseline, k 50 on 10,000 images), a list of unknown sets and its
// output folder, and the refusals, each naming its flag.
func TestTestFlags(t *testing.T) {
	clock = func() time.Time { return fixedTime }
	defer func() { clock = time.Now }()
	m := dryRun(t, "test", mnistArgs...)
	for k, want := range map[string]any{"baselines": "all", "knn_k": 50.0, "knn_train": 10000.0, "features_out": "", "features_in": ""} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	m = dryRun(t, "test", append(mnistArgs, "--unknown_dataset", "omniglot,mnist_noise,noise", "--baselines", "knn,energy", "--knn_k", "7")...)
	if m["unknown_dataset"] != "omniglot,mnist_noise,noise" || m["baselines"] != "knn,energy" || m["knn_k"] != 7.0 ||
		m["output_dir"] != "runs/20260102-030405-mnist-omniglot+mnist_noise+noise-mnist-conv-test" {
		t.Errorf("dry run: %v", m)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--unknown_dataset", "omniglot,nope"}, `--unknown_dataset "nope": want one of`},
		{[]string{"--unknown_dataset", "noise,noise"}, "noise is named twice"},
		{[]string{"--unknown_dataset", "omniglot,"}, "an empty name"},
		{[]string{"--unknown_dataset", "odin"}, "--unknown_dataset odin: the ODIN sets"},
		{[]string{"--baselines", "mahalanobis,odin"}, `--baselines "mahalanobis,odin": "odin" is not a baseline`},
		{[]string{"--knn_k", "51"}, "--knn_k 51: want 1..50"},
		{[]string{"--knn_train", "-1"}, "--knn_train -1"},
		{[]string{"--features_in", "a", "--features_out", "b"}, "--features_out and --features_in"},
		{[]string{"--features_in", "a", "--reference_fit"}, "--reference_fit and --features_in"},
	} {
		var out, errb bytes.Buffer
		err := run(append(append([]string{"test", "--dry_run"}, mnistArgs...), tc.args...), &out, &errb)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want exit status 2 and %q", tc.args, err, tc.want)
		}
	}
	// --features_in needs no checkpoint: the folder holds the features.
	if err := run(append([]string{"test", "--features_in", t.TempDir(), "--output_dir", t.TempDir()}, mnistArgs...), &bytes.Buffer{}, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "features.json") {
		t.Errorf("--features_in of an empty folder: %v, want features.json named", err)
	}
}
