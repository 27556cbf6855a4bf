package ovd

import (
	"context"
	"fmt"
	"time"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/nn/backbone"
)

// referenceFitPass is pass 1 as the reference's test.py runs it
// (--reference_fit): over dm.train_dataloader(), which in testing mode is
// one epoch of its round-robin class-balanced sampler (data.RoundRobinSampler
// with --batch_classes and --sample_count, batches of their product, the
// `while seen + B < N` loop) with the `train` variant of --data_transforms
// (augmentation seeded from --seed where that variant augments). The
// feature ensemble gets test_step's statistics (referenceStats: the last
// batch's sums over the total count) and calculate_gaussian's float32 fit
// and jitter walk (fitReferenceGaussians). The latent Gaussians, whose
// statistics test_step adds up over the same batches, get the float64
// FitShared fit of the default path: calculate_gaussian replaces their
// covariance with 10·I, but the reference never scores with them
// (test_epoch_end scores with the ensemble's Gaussians), so the latent
// ablation keeps its fitted covariance.
//
// hook, when not nil, gets every batch's features and labels as in
// fitPassHook, and the float64 moments of the same batches are kept for
// the baselines: under --reference_fit they fit on the images the method
// fits on.
func referenceFitPass(ctx context.Context, cfg *Config, model *backbone.Model, train *data.Set, hook func(f Features, labels []int) error, obs Observer) (*testFit, error) {
	start := time.Now()
	acc := newFitAccumulator(cfg.ClassNum, ensembleWidths(cfg, model))
	dim := acc.ens.Dim
	labels := make([]int, train.Len())
	for i := range labels {
		labels[i] = train.Label(i)
	}
	sampler, err := data.NewRoundRobinSampler(labels, cfg.BatchClasses, cfg.SampleCount, cfg.Seed)
	if err != nil {
		return nil, inputErrorf("--reference_fit: the reference's test-time sampler (--batch_classes %d, --sample_count %d): %w", cfg.BatchClasses, cfg.SampleCount, err)
	}
	batches := sampler.Epoch()
	total := 0
	for _, b := range batches {
		total += len(b)
	}
	loader, err := newLoader(cfg, train, true)
	if err != nil {
		return nil, err
	}
	ens := newReferenceStats(cfg.ClassNum, dim)
	seen := 0
	err = forBatches(ctx, loader, batches, func(b *data.Batch) error {
		f, err := ExtractFeatures(model, b.X)
		if err != nil {
			return err
		}
		ensRows := f.Ensemble.Host()
		ens.add(ensRows, b.Labels)
		acc.add(ensRows, f.Mu.Host(), b.Labels)
		if hook != nil {
			if err := hook(f, b.Labels); err != nil {
				return err
			}
		}
		seen += len(b.Labels)
		obs.emit(Event{Phase: "fit", Images: seen, Steps: total, Elapsed: time.Since(start)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pass 1 (fit): %w", err)
	}
	gsEns, kEns, err := fitReferenceGaussians(ens)
	if err != nil {
		return nil, fmt.Errorf("pass 1 (fit), feature ensemble: %w", err)
	}
	gsLat, kLat, err := FitShared(acc.lat)
	if err != nil {
		return nil, fmt.Errorf("pass 1 (fit), latent: %w", err)
	}
	return &testFit{ens: gsEns, lat: gsLat, kEns: kEns, kLat: kLat, dim: dim, images: seen, mode: fitReference,
		ensMoments: acc.ens, seconds: time.Since(start).Seconds()}, nil
}
