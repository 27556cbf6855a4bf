package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/ovd"
	"github.com/vmdls-go/vmdls/safetensors"
)

// TestTrainCheckpointPathAndResume checks the command line of issue 18's
// item 5: train --checkpoint_path is the reference's warm start and takes
// the reference's .ckpt as well as a vmdls checkpoint; --resume continues
// a vmdls run and refuses a file without training state, naming
// --checkpoint_path; the two together are a flag error naming both.
func TestTrainCheckpointPathAndResume(t *testing.T) {
	dir := t.TempDir()
	var got ovd.Config
	calls := 0
	withFakes(t, func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
		got, calls = cfg, calls+1
		return writeFile(t, cfg.OutputDir, "last.safetensors"), nil
	}, nil, nil)
	state := filepath.Join(dir, "state.safetensors")
	if err := safetensors.WriteFile(state, []safetensors.Tensor{
		safetensors.FromFloat32("fc_mu.weight", []int{32, 500}, make([]float32, 32*500)),
	}, map[string]string{"vmdls_state": `{"epoch":4,"enc_type":"mnist-conv","latent_dim":32,"class_num":10}`}); err != nil {
		t.Fatal(err)
	}
	ref := mnistConvCheckpoint(t)

	for _, tc := range []struct {
		flag, path, say string
	}{
		{"--checkpoint_path", ref, "a new run from the weights of " + ref},
		{"--checkpoint_path", state, "a new run from the weights of " + state},
		{"--resume", state, "resuming from epoch 5 of " + state},
	} {
		var out, errb bytes.Buffer
		// The architecture comes from the file.
		args := []string{"train", "--output_dir", filepath.Join(t.TempDir(), "o"), tc.flag, tc.path}
		if err := run(args, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		wantCk, wantResume := tc.path, ""
		if tc.flag == "--resume" {
			wantCk, wantResume = "", tc.path
		}
		if got.CheckpointPath != wantCk || got.Resume != wantResume || got.EncType != "mnist-conv" || got.LatentDim != 32 {
			t.Errorf("%v: Train got checkpoint_path %q resume %q enc_type %s latent_dim %d", args, got.CheckpointPath, got.Resume, got.EncType, got.LatentDim)
		}
		if !strings.Contains(errb.String(), tc.say) {
			t.Errorf("%v: stderr lacks %q:\n%s", args, tc.say, errb.String())
		}
	}

	before := calls
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "--resume", state, "--checkpoint_path", ref}, []string{"--resume " + state, "--checkpoint_path " + ref, "give one"}},
		{[]string{"train", "--resume", ref}, []string{"--resume " + ref, "not a training checkpoint", "use --checkpoint_path"}},
		{append([]string{"train", "--resume", dir}, mnistArgs...), []string{"--resume", "is a directory"}},
		{append([]string{"test", "--resume", state}, mnistArgs...), []string{"--resume"}},
	} {
		err := run(append(tc.args, "--output_dir", filepath.Join(t.TempDir(), "o")), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want exit 2", tc.args, err, exitCode(err))
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q lacks %q", tc.args, err.Error(), w)
			}
		}
	}
	if calls != before {
		t.Errorf("a refused command line ran Train")
	}
}
