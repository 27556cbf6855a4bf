// Package ovd is the VMDLS out-of-distribution detector of METHOD.md: it
// trains an encoder whose latent classes are Gaussian clusters kept apart by
// a triplet loss with distancing and a KL term, then fits one Gaussian per
// known class on a feature ensemble and flags an image as unknown when no
// class finds it likely enough. It is the top library package, composing
// data, nn/backbone (with nn, autograd and tensor beneath it), parallel (the
// thread count of a run) and its own subpackages losses (the training
// losses), metrics (the scores of a detector), report (results.json, CSV
// tables, plots) and baselines (the detectors compared with the method); the vmdls command is the command-line shell over it.
//
// The whole workflow is three calls on one Config (start from DefaultConfig,
// whose fields carry the reference's flag names and defaults): Train does
// what the reference's main.py does, Test what its test.py does, and TrainAE
// trains the autoencoder of the reconstruction weight. Each takes a context
// (cancelling Train or TrainAE finishes the current step and saves the
// weights so far) and an Observer that receives progress Events; the
// package itself never prints.
//
// The pieces of the test procedure are exported for callers that bring
// their own features: ExtractFeatures (the ensemble [tap1, tap2, tap3, h,
// mu] of one batch), Moments (per-class sums in float64 over any number of
// batches), FitShared (one Gaussian per class with a shared jitter),
// Gaussian.LogProb, Score (the per-class log-likelihoods turned into a value
// and a predicted class) and ReconstructionWeights.
//
// Test scores several unknown sets from one fit (Config.UnknownDataset
// may be a comma list; UnknownSets reads it) and, beside the method, the
// standard baselines of package baselines (BaselineNames) from the same
// passes; it can write the features it fitted and scored
// (Config.FeaturesOut) and score such a folder without the network
// (Config.FeaturesIn), so that detectors can be compared in seconds.
//
// For a service, FitDetector makes a Detector from a trained checkpoint and
// Test's Config, Save writes it as one safetensors file, and LoadDetector,
// Detector.Score (transformed float32 NCHW batches) and
// Detector.ScoreImages (decoded images) use it. The detector lives here
// rather than in a package above ovd because it is the test procedure
// itself, frozen: FitDetector runs Test's own pass 1 and pass 2 (fitPass,
// scorePass) and Score's arithmetic with the normalizers fixed, so a
// detector cannot drift from what Test computes, and none of the passes'
// internals had to become API to make it. Its scores differ from Test's in
// one way, on purpose: Test normalizes by its evaluation set (M, max r),
// a Detector by its calibration set, fixed at fit time, so that a score
// does not depend on what else is in the request.
//
// Conventions: images are float32 NCHW and the model's state_dict keys are
// the reference's (see nn/backbone); densities, moments and scores are
// float64. Labels 0..ClassNum-1 are the known classes, and a higher value
// means more in-distribution. Randomness (weights, sampling, augmentation,
// the reparameterization noise, dropout) derives from Config.Seed, never
// from a global source. Config.Validate names the flag of the first unusable
// setting, and Train, Test and TrainAE return failures (missing files,
// unusable checkpoints, a class without samples) as errors naming what is at
// fault. The lower-level functions trust their inputs: slices of
// inconsistent lengths are programming errors and may panic.
package ovd
