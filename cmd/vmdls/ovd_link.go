package main

import (
	"context"

	"github.com/vmdls-go/vmdls/ovd"
)

// The commands call package ovd through these adapters, which keep only
// what the command line prints: the checkpoint to resume from, the
// autoencoder's path. ovd writes results.json, the CSV tables and the
// plots itself.
func init() {
	runTrain = func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
		r, err := ovd.Train(ctx, cfg, obs)
		if r == nil {
			return "", err
		}
		// Resuming restarts from the last completed epoch, whose checkpoint
		// carries the full training state; the interrupted weights do not.
		return r.LastCheckpoint, err
	}
	runTest = func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (map[string]any, error) {
		r, err := ovd.Test(ctx, cfg, obs)
		if r == nil {
			return nil, err
		}
		return r.Results, err
	}
	runTrainAE = func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
		r, err := ovd.TrainAE(ctx, cfg, obs)
		if r == nil {
			return "", err
		}
		return r.Path, err
	}
}
