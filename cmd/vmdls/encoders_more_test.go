package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestMoreEncoderFlags checks issue 18's item 11 on the command line:
// train takes the encoders main.py offers beyond the published five, with
// their widths and image sizes derived; train-ae's default autoencoder for
// CIFAR-100 is the reference's ResNet-50 one; test refuses an encoder
// without feature taps, saying why.
func TestMoreEncoderFlags(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		args []string
		want map[string]any
	}{
		{"train", []string{"--enc_type", "resnet50", "--known_dataset", "cifar_known"}, map[string]any{"enc_out_dim": 2048.0, "input_height": 32.0}},
		{"train", []string{"--enc_type", "mnist"}, map[string]any{"enc_out_dim": 64.0, "input_height": 28.0}},
		{"train", []string{"--enc_type", "cifar", "--known_dataset", "cifar_known"}, map[string]any{"enc_out_dim": 500.0, "input_height": 32.0}},
		{"train-ae", []string{"--dataset", "cifar100_known"}, map[string]any{"enc_type": "resnet50", "enc_out_dim": 2048.0, "input_height": 32.0}},
		{"train-ae", []string{"--dataset", "cifar_known"}, map[string]any{"enc_type": "resnet18", "enc_out_dim": 512.0}},
		{"train-ae", []string{"--dataset", "mnist"}, map[string]any{"enc_type": "mnist-conv", "enc_out_dim": 500.0}},
		{"train-ae", []string{"--dataset", "cifar100_known", "--enc_type", "resnet18"}, map[string]any{"enc_type": "resnet18", "enc_out_dim": 512.0}},
	} {
		m := dryRun(t, tc.cmd, tc.args...)
		for k, want := range tc.want {
			if m[k] != want {
				t.Errorf("%s %v: %s = %v, want %v", tc.cmd, tc.args, k, m[k], want)
			}
		}
	}
	for _, enc := range []string{"mnist", "cifar"} {
		args := []string{"test", "--dry_run", "--enc_type", enc}
		if enc == "cifar" {
			args = append(args, "--known_dataset", "cifar_known")
		}
		err := run(args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "no feature taps") || !strings.Contains(err.Error(), "get_layer_output") {
			t.Errorf("%v: %v (exit %d), want exit 2 saying it has no feature taps", args, err, exitCode(err))
		}
	}
}
