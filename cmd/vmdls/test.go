package main

import "io"

// runTestCmd is `vmdls test`, the reference's test.py: fit the class
// Gaussians on the training set with the model of --checkpoint_path, score
// the known test set and the unknown set, write the metrics.
func runTestCmd(args []string, stdout, stderr io.Writer) error {
	o, err := prepare("test", args, stdout, stderr)
	if err != nil || o == nil {
		return err
	}
	if runTest == nil {
		return notBuilt("test", "Test")
	}
	s, err := start(o, stderr, "stopping the evaluation")
	if err != nil {
		return err
	}
	return s.finish(stdout, runTest(s.ctx, o.cfg, s.prog.observe))
}
