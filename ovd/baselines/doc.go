// Package baselines holds the standard out-of-distribution detectors that
// the paper's supplement and the OOD benchmarks (pytorch-ood, OpenOOD)
// compare VMDLS with, scored on the features the test procedure already
// computes, with no retraining: Mahalanobis with a tied covariance (Lee et
// al. 2018, without input preprocessing), per layer and summed over the
// tapped layers; relative Mahalanobis (Ren et al. 2021); KNN in the
// L2-normalized feature space (Sun et al. 2022), by exact search; and
// energy and max-softmax over the class log-likelihoods.
//
// Every score follows package metrics' convention: higher means more in
// distribution. Features are row-major float64 matrices (Matrix); the
// arithmetic is float64 throughout, as scikit-learn's and numpy's, against
// which testdata/gen_baselines.py writes the golden values the tests
// compare with. It imports gonum for the linear algebra and kernels for
// the KNN search's products; ovd builds on it.
package baselines
