package main

import (
	"fmt"
	"io"
)

// runTrainAECmd is `vmdls train-ae`, the reference's mnist_ae.py and
// train_resnet_ae.py: the autoencoder of the known data that --ae_features
// uses (METHOD.md section 5).
func runTrainAECmd(args []string, stdout, stderr io.Writer) error {
	o, err := prepare("train-ae", args, stdout, stderr)
	if err != nil || o == nil {
		return err
	}
	s, err := start(o, stderr, "finishing the current step and saving the autoencoder")
	if err != nil {
		return err
	}
	path, err := method.TrainAE(s.ctx, o.cfg, s.prog.observe)
	if path != "" {
		fmt.Fprintf(stdout, "autoencoder: %s (use it with --ae_features --ae_path %s)\n", path, shellQuote(path))
	}
	return s.finish(stdout, err)
}
