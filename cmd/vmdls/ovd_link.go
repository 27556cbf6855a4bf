package main

import (
	"context"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/ovd"
)

// runner is the method as the commands call it: package ovd's Train, Test
// and TrainAE, each reduced to what the command line prints. It is an
// interface so that the commands' tests can run with recorded fakes
// (withFakes); everything else uses ovdRunner.
type runner interface {
	// Train is ovd.Train: it returns the path of the last checkpoint it
	// wrote, also when ctx was cancelled (then err wraps context.Canceled).
	Train(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (checkpoint string, err error)
	// Test is ovd.Test and returns what results.json holds.
	Test(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (results map[string]any, err error)
	// TrainAE is ovd.TrainAE and returns the path of the autoencoder it saved.
	TrainAE(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (aePath string, err error)
	// LocateData is data.Locate for the datasets the method will read, so
	// that a missing file is reported before the output folder exists.
	LocateData(name string, split data.Split, opt data.Options) ([]string, error)
}

// method is the runner the commands use.
var method runner = ovdRunner{}

// ovdRunner calls package ovd, which writes results.json, the CSV tables
// and the plots itself.
type ovdRunner struct{}

func (ovdRunner) Train(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
	r, err := ovd.Train(ctx, cfg, obs)
	if r == nil {
		return "", err
	}
	// Resuming restarts from the last completed epoch, whose checkpoint
	// carries the full training state; the interrupted weights do not.
	return r.LastCheckpoint, err
}

func (ovdRunner) Test(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (map[string]any, error) {
	r, err := ovd.Test(ctx, cfg, obs)
	if r == nil {
		return nil, err
	}
	return r.Results, err
}

func (ovdRunner) TrainAE(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
	r, err := ovd.TrainAE(ctx, cfg, obs)
	if r == nil {
		return "", err
	}
	return r.Path, err
}

func (ovdRunner) LocateData(name string, split data.Split, opt data.Options) ([]string, error) {
	return data.Locate(name, split, opt)
}
