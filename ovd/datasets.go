package ovd

import (
	"context"
	"fmt"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/parallel"
)

// sets are the three datasets of a run: the known training set, the known
// test set and the unknown set (every label ClassNum).
type sets struct {
	train, test, unknown *data.Set
}

// openSets opens cfg's datasets, applies the subset caps and checks that
// the known set has the classes class_num promises.
func openSets(cfg *Config) (*sets, error) { return openSetsFor(cfg, true) }

// openSetsFor is openSets; without unknown it leaves the unknown set nil
// and never opens it, for a Detector fit whose threshold needs no unknown
// data (whose files may then be absent).
func openSetsFor(cfg *Config, unknown bool) (*sets, error) {
	opt := data.Options{Dir: cfg.DataDir, ClassNum: cfg.ClassNum, Seed: cfg.Seed, BadImages: cfg.BadImages}
	train, err := data.Open(cfg.KnownDataset, data.Train, opt)
	if err != nil {
		return nil, fmt.Errorf("--known_dataset %s: %w", cfg.KnownDataset, err)
	}
	test, err := data.Open(cfg.KnownDataset, data.Test, opt)
	if err != nil {
		return nil, fmt.Errorf("--known_dataset %s (test split): %w", cfg.KnownDataset, err)
	}
	var unk *data.Set
	if unknown {
		if unk, err = data.OpenUnknown(cfg.UnknownDataset, data.Test, opt); err != nil {
			return nil, fmt.Errorf("--unknown_dataset %s: %w", cfg.UnknownDataset, err)
		}
	}
	// Only the known classes take part (a dataset with more classes than
	// class_num, such as cifar10, keeps labels < class_num).
	for _, s := range []*data.Set{train, test} {
		s.Dataset = data.FilterLabels(s.Dataset, func(l int) bool { return l < cfg.ClassNum })
	}
	for _, c := range []struct {
		s *data.Set
		n int
	}{{train, cfg.TrainLimit}, {test, cfg.TestLimit}, {unk, cfg.UnknownLimit}} {
		if c.n > 0 && c.s != nil {
			c.s.Dataset = classBalancedHead(c.s.Dataset, c.n)
		}
	}
	counts, err := data.ClassCountsChecked(train.Dataset, cfg.ClassNum)
	if err != nil {
		return nil, inputErrorf("--known_dataset %s (%s): %w", cfg.KnownDataset, train.Source, err)
	}
	present := 0
	for _, n := range counts {
		if n > 0 {
			present++
		}
	}
	if present < cfg.ClassNum {
		return nil, fmt.Errorf("--class_num %d: the training set of %s has only %d of the classes 0..%d", cfg.ClassNum, cfg.KnownDataset, present, cfg.ClassNum-1)
	}
	return &sets{train: train, test: test, unknown: unk}, nil
}

// classBalancedHead keeps n items of ds: the first items of every class
// in dataset order, taken round-robin over the classes, so that a cap on a
// class-sorted dataset (the CIFAR-10 JPEG folders) keeps every class. The
// kept items stay in dataset order.
func classBalancedHead(ds data.Dataset, n int) data.Dataset {
	if n >= ds.Len() {
		return ds
	}
	byClass, classes := classIndices(ds)
	keep := make([]bool, ds.Len())
	for taken, round := 0, 0; taken < n; round++ {
		for _, c := range classes {
			if round < len(byClass[c]) && taken < n {
				keep[byClass[c][round]] = true
				taken++
			}
		}
	}
	idx := make([]int, 0, n)
	for i, k := range keep {
		if k {
			idx = append(idx, i)
		}
	}
	return &data.Subset{Base: ds, Indices: idx}
}

// classIndices groups the item indices of ds by label, in dataset order,
// and lists the labels in the order they first appear.
func classIndices(ds data.Dataset) (byClass map[int][]int, classes []int) {
	byClass = map[int][]int{}
	for i := range ds.Len() {
		l := ds.Label(i)
		if _, ok := byClass[l]; !ok {
			classes = append(classes, l)
		}
		byClass[l] = append(byClass[l], i)
	}
	return byClass, classes
}

// newLoader makes the loader of set s with the run's transforms: the
// training augmentation when train is true, the test-time pipeline
// otherwise.
func newLoader(cfg *Config, s *data.Set, train bool) (*data.Loader, error) {
	p, err := data.Pipeline(cfg.DataTransforms, train)
	if err != nil {
		return nil, fmt.Errorf("--data_transforms: %w", err)
	}
	return data.NewLoader(s.Dataset, p.Then(s.Post...), data.LoaderOptions{Seed: cfg.Seed, Workers: parallel.Threads()}), nil
}

// sequentialBatches splits 0..n-1 into consecutive batches of size bs.
func sequentialBatches(n, bs int) [][]int {
	var out [][]int
	for lo := 0; lo < n; lo += bs {
		b := make([]int, 0, min(bs, n-lo))
		for i := lo; i < min(lo+bs, n); i++ {
			b = append(b, i)
		}
		out = append(out, b)
	}
	return out
}

// forEachBatch runs fn over the whole dataset of l in order, in batches of
// bs, stopping early when ctx is cancelled or fn fails.
func forEachBatch(ctx context.Context, l *data.Loader, n, bs int, fn func(b *data.Batch) error) error {
	return forBatches(ctx, l, sequentialBatches(n, bs), fn)
}

// forBatches runs fn over the given batches of l's dataset (lists of
// indices) in order, stopping early when ctx is cancelled or fn fails.
func forBatches(ctx context.Context, l *data.Loader, batches [][]int, fn func(b *data.Batch) error) error {
	it := l.Epoch(0, batches)
	defer it.Close()
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return it.Err()
}
