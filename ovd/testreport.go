package ovd

import (
	"fmt"
	"slices"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/ovd/baselines"
	"github.com/vmdls-go/vmdls/ovd/report"
)

// ValidateTest reports the first setting of Test's own that cannot work
// (the unknown sets, the baselines, the feature folders), naming its
// flag; the command line calls it with Validate before any work.
func (c *Config) ValidateTest() error {
	_, _, err := c.checkTest()
	return err
}

// checkTest is ValidateTest, returning the unknown sets and the chosen
// baselines.
func (c *Config) checkTest() (names, sel []string, err error) {
	if names, err = c.UnknownSets(); err != nil {
		return nil, nil, err
	}
	if sel, err = c.baselineSelection(); err != nil {
		return nil, nil, err
	}
	if c.FeaturesOut != "" && c.FeaturesIn != "" {
		return nil, nil, fmt.Errorf("--features_out and --features_in: a run either writes the features of the network or scores saved ones, not both")
	}
	if c.ReferenceFit && c.FeaturesIn != "" {
		return nil, nil, fmt.Errorf("--reference_fit and --features_in: the reference's fit draws its own batches of training images with train transforms, which saved features do not have")
	}
	return names, sel, nil
}

// openUnknownSets opens the unknown sets in order, each capped by
// UnknownLimit as openSets caps the one set.
func openUnknownSets(cfg *Config, names []string) ([]*data.Set, error) {
	opt := data.Options{Dir: cfg.DataDir, ClassNum: cfg.ClassNum, Seed: cfg.Seed, BadImages: cfg.BadImages}
	var out []*data.Set
	for _, n := range names {
		s, err := data.OpenUnknown(n, data.Test, opt)
		if err != nil {
			return nil, fmt.Errorf("--unknown_dataset %s: %w", n, err)
		}
		if cfg.UnknownLimit > 0 {
			s.Dataset = classBalancedHead(s.Dataset, cfg.UnknownLimit)
		}
		out = append(out, s)
	}
	return out, nil
}

// testRun is what the passes of Test measured, from the network or from a
// --features_in folder, for writeTest.
type testRun struct {
	fit       *testFit
	sc        *testScores
	bl        *baselineFit
	blScores  map[string][]float64 // the feature baselines' scores of every evaluated image
	blSeconds float64
	names     []string // the unknown sets
	sizes     []int    // images of the known test set, then of each unknown set
	weighted  bool     // sc.r holds reconstruction distances
	meta      map[string]any
}

// writeTest scores every detector on each unknown set against the known
// test set, as a run with that one unknown set would (the weights w(x) and
// the offset M of METHOD.md section 4 are taken over the known test set
// and that set), and writes the report.
func writeTest(cfg *Config, tr testRun) (*TestResult, error) {
	c := cfg.ClassNum
	total := 0
	for _, n := range tr.sizes {
		total += n
	}
	if len(tr.sc.labels) != total {
		return nil, fmt.Errorf("pass 2 (score): %d images scored, the sets have %d", len(tr.sc.labels), total)
	}
	known := tr.sizes[0]
	var sets []report.SetRuns
	lo := known
	for u, name := range tr.names {
		hi := lo + tr.sizes[u+1]
		pick := func(v []float64, width int) []float64 {
			return append(slices.Clone(v[:known*width]), v[lo*width:hi*width]...)
		}
		labels := append(slices.Clone(tr.sc.labels[:known]), tr.sc.labels[lo:hi]...)
		llEns, llLat := pick(tr.sc.llEns, c), pick(tr.sc.llLat, c)
		var r, w []float64
		if tr.weighted {
			r = pick(tr.sc.r, 1)
			w = ReconstructionWeights(r)
		}
		run := func(name, label string, ll []float64, w []float64) report.Run {
			v, p := Score(ll, c, w)
			return report.Run{Name: name, Label: label, Values: v, Pred: p, Labels: labels, NumClasses: c}
		}
		var runs []report.Run
		methodLL := llEns
		switch {
		case cfg.LatentOnly:
			methodLL = llLat
			runs = append(runs, run("latent", "method: mu only", llLat, w))
		case tr.weighted:
			runs = append(runs, run("vmdls", "method", llEns, w), run("vmdlsb", "ablation: no reconstruction weight", llEns, nil),
				run("latent", "ablation: mu only", llLat, w))
		default:
			runs = append(runs, run("vmdlsb", "method, no reconstruction weight", llEns, nil), run("latent", "ablation: mu only", llLat, nil))
		}
		_, pred := Score(methodLL, c, nil)
		ll := baselines.Matrix{Rows: len(labels), Cols: c, Data: methodLL}
		for _, b := range tr.bl.runs(cfg) {
			var v []float64
			switch b.name {
			case "energy":
				v = baselines.Energy(ll)
			case "msp":
				v = baselines.MaxSoftmax(ll)
			default:
				v = pick(tr.blScores[b.name], 1)
			}
			runs = append(runs, report.Run{Name: b.name, Label: b.label, Values: v, Pred: pred, Labels: labels, NumClasses: c, Baseline: true})
		}
		var columns []report.Column
		if tr.weighted {
			columns = append(columns, report.Column{Name: "recon_distance", Values: r}, report.Column{Name: "recon_weight", Values: w})
		}
		sets = append(sets, report.SetRuns{Name: name, Runs: runs, Columns: columns,
			Meta: map[string]any{"images": map[string]int{"train": tr.fit.images, "known_test": known, "unknown": tr.sizes[u+1]}}})
		lo = hi
	}
	meta := map[string]any{
		"method":       sets[0].Runs[0].Name,
		"test_config":  cfg,
		"train_config": trainConfig(cfg.CheckpointPath),
		"vmdls":        buildInfo(),
		"seed":         cfg.Seed,
		"timings":      map[string]float64{"fit_seconds": tr.fit.seconds, "score_seconds": tr.sc.seconds, "baselines_seconds": tr.blSeconds},
		"jitter":       map[string]any{"ensemble_k": tr.fit.kEns, "latent_k": tr.fit.kLat, "step": JitterStep},
		"jitter_k":     tr.fit.kEns,
		"fit":          tr.fit.mode,
		"feature_dim":  tr.fit.dim,
		"checkpoint":   cfg.CheckpointPath,
	}
	if tr.bl != nil {
		meta["baseline_settings"] = tr.bl.settings(cfg, tr.fit.images)
	}
	if len(sets) > 1 {
		unknown := map[string]int{}
		for u, n := range tr.names {
			unknown[n] = tr.sizes[u+1]
		}
		meta["images"] = map[string]any{"train": tr.fit.images, "known_test": known, "unknown": unknown}
	}
	for k, v := range tr.meta {
		meta[k] = v
	}
	results, err := report.WriteSets(cfg.OutputDir, sets, meta)
	if err != nil {
		return nil, err
	}
	return &TestResult{OutputDir: cfg.OutputDir, Results: results, Jitter: tr.fit.kEns, UnknownSets: tr.names}, nil
}
