package data

import (
	"reflect"
	"testing"
)

func mnistLikeLabels() []int {
	// The MNIST training class counts.
	counts := []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}
	var labels []int
	for round := 0; len(labels) < 60000; round++ {
		for c, n := range counts {
			if round < n {
				labels = append(labels, c)
			}
		}
	}
	return labels
}

// TestBalancedSampler checks every batch of several epochs: batch_classes
// distinct classes, sample_count images of each, indices of the right
// class, floor((N-1)/B) batches per epoch, no repeat within a class until
// its list is reshuffled.
func TestBalancedSampler(t *testing.T) {
	labels := mnistLikeLabels()
	for _, cfg := range []struct{ classes, count int }{{10, 16}, {1, 4996}, {8, 8}, {3, 7}} {
		s, err := NewBalancedSampler(labels, cfg.classes, cfg.count, 42)
		if err != nil {
			t.Fatal(err)
		}
		B := cfg.classes * cfg.count
		for ep := 0; ep < 3; ep++ {
			batches := s.Epoch()
			if want := (len(labels) - 1) / B; len(batches) != want {
				t.Fatalf("%v: %d batches, want floor((N-1)/B) = %d", cfg, len(batches), want)
			}
			for bi, b := range batches {
				if len(b) != B {
					t.Fatalf("%v: batch %d has %d items", cfg, bi, len(b))
				}
				seen := map[int]bool{}
				for g := 0; g < cfg.classes; g++ {
					c := labels[b[g*cfg.count]]
					if seen[c] {
						t.Fatalf("%v: class %d twice in batch %d", cfg, c, bi)
					}
					seen[c] = true
					within := map[int]bool{}
					for _, i := range b[g*cfg.count : (g+1)*cfg.count] {
						if labels[i] != c {
							t.Fatalf("%v: group of class %d holds label %d", cfg, c, labels[i])
						}
						if within[i] {
							t.Fatalf("%v: index %d repeated within a group", cfg, i)
						}
						within[i] = true
					}
				}
			}
		}
	}
	// Same seed, same batches; another seed, others.
	a, _ := NewBalancedSampler(labels, 10, 16, 7)
	b, _ := NewBalancedSampler(labels, 10, 16, 7)
	c, _ := NewBalancedSampler(labels, 10, 16, 8)
	ea, eb, ec := a.Epoch(), b.Epoch(), c.Epoch()
	if !reflect.DeepEqual(ea, eb) || reflect.DeepEqual(ea, ec) {
		t.Fatal("balanced sampler is not a function of its seed")
	}
	// Classes are drawn uniformly: over an epoch of 374 batches of 10 of 10
	// classes each appears 374 times; with 1 of 10, about 1/10 each.
	one, _ := NewBalancedSampler(labels, 1, 16, 3)
	hist := make([]int, 10)
	n := 0
	for ep := 0; ep < 4; ep++ {
		for _, bt := range one.Epoch() {
			hist[labels[bt[0]]]++
			n++
		}
	}
	for c, h := range hist {
		if f := float64(h) / float64(n); f < 0.085 || f > 0.115 {
			t.Fatalf("class %d drawn in %.3f of batches, want about 0.1 (%v)", c, f, hist)
		}
	}
}

// TestRoundRobinSampler reproduces the reference's test pass with the
// published settings: CIFAR-10 (5,000 per class, sample_count 4996, one
// class a batch) visits every class once with its first 4,996 images in
// dataset order; MNIST visits 0..9 and then 0 and 1 again.
func TestRoundRobinSampler(t *testing.T) {
	var cifar []int
	for c := 0; c < 10; c++ {
		for i := 0; i < 5000; i++ {
			cifar = append(cifar, c)
		}
	}
	s, err := NewRoundRobinSampler(cifar, 1, 4996, 1)
	if err != nil {
		t.Fatal(err)
	}
	bs := s.Epoch()
	if len(bs) != 10 {
		t.Fatalf("%d batches, want 10", len(bs))
	}
	for c, b := range bs {
		for k, i := range b {
			if i != c*5000+k {
				t.Fatalf("batch %d item %d is %d, want %d (dataset order)", c, k, i, c*5000+k)
			}
		}
	}
	labels := mnistLikeLabels()
	m, _ := NewRoundRobinSampler(labels, 1, 4996, 1)
	bs = m.Epoch()
	want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}
	if len(bs) != len(want) {
		t.Fatalf("%d batches, want %d", len(bs), len(want))
	}
	for k, b := range bs {
		for _, i := range b {
			if labels[i] != want[k] {
				t.Fatalf("batch %d holds label %d, want %d", k, labels[i], want[k])
			}
		}
	}
	// Two classes a batch, consecutive and cycling.
	r2, _ := NewRoundRobinSampler(labels, 4, 100, 1)
	for k, b := range r2.Epoch()[:5] {
		for g := 0; g < 4; g++ {
			if got, w := labels[b[g*100]], (4*k+g)%10; got != w {
				t.Fatalf("batch %d group %d has class %d, want %d", k, g, got, w)
			}
		}
	}
}

func TestSamplerErrors(t *testing.T) {
	labels := []int{0, 0, 1, 1, 1}
	if _, err := NewBalancedSampler(labels, 3, 1, 0); err == nil {
		t.Error("batch_classes above the class count accepted")
	}
	if _, err := NewBalancedSampler(labels, 2, 3, 0); err == nil {
		t.Error("sample_count above a class's size accepted")
	}
	if _, err := NewRoundRobinSampler(labels, 0, 1, 0); err == nil {
		t.Error("batch_classes 0 accepted")
	}
}

func TestSequentialSampler(t *testing.T) {
	got := SequentialSampler{N: 7, BatchSize: 3}.Epoch()
	want := [][]int{{0, 1, 2}, {3, 4, 5}, {6}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	if got := (SequentialSampler{N: 7, BatchSize: 3, DropLast: true}).Epoch(); len(got) != 2 {
		t.Fatalf("drop last: %v", got)
	}
}
