package data

import (
	"testing"
)

// benchLoader measures images/s through the loader with 2 workers over
// batches of 400 (the MNIST training batch of seed-readme), counting decode,
// transforms and the copy into the batch tensor.
func benchLoader(b *testing.B, ds Dataset, pipeline string) {
	tf, err := Pipeline(pipeline, true)
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewBalancedSampler(Labels(ds), 10, 40, 1)
	if err != nil {
		b.Fatal(err)
	}
	l := NewLoader(ds, tf, LoaderOptions{Workers: 2, Prefetch: 2, Seed: 1})
	var batches [][]int
	for len(batches) < 25 {
		batches = append(batches, s.Epoch()...)
	}
	batches = batches[:25] // 10,000 images a round
	b.ReportAllocs()
	b.ResetTimer()
	images := 0
	for i := 0; i < b.N; i++ {
		it := l.Epoch(i, batches)
		for {
			bt, ok := it.Next()
			if !ok {
				break
			}
			images += len(bt.Labels)
		}
		if err := it.Err(); err != nil {
			b.Fatal(err)
		}
		it.Close()
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkLoaderMNIST: MNIST with the mnist training augmentations
// (rotation, resized crop, normalize).
func BenchmarkLoaderMNIST(b *testing.B) {
	dir := sharedDataDir(b, "mnist")
	ds, err := Open("mnist", Train, Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	benchLoader(b, ds, "mnist")
}

// BenchmarkLoaderCIFAR10JPEG: CIFAR-10 decoded from its JPEGs in the
// workers, with the cifar training augmentations (padded crop, flip,
// normalize).
func BenchmarkLoaderCIFAR10JPEG(b *testing.B) {
	dir := sharedDataDir(b, "cifar10-jpeg")
	ds, err := Open("cifar10", Train, Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	benchLoader(b, ds, "cifar")
}
