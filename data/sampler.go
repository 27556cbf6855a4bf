package data

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// Sampler yields the batches (lists of dataset indices) of one epoch per
// call. A sampler keeps its state (list positions, generator) from one
// call to the next; the reference's training loop instead builds a new
// sampler every epoch (Lightning's reload_dataloaders_every_epoch), which
// ovd's trainer does too, and its test pass iterates its sampler once.
type Sampler interface {
	Epoch() [][]int
}

// classIndex groups dataset indices by label, classes in ascending label
// order (the reference's list(set(labels)) of small ints).
func classIndex(labels []int) (classes []int, byClass map[int][]int) {
	byClass = map[int][]int{}
	for i, l := range labels {
		byClass[l] = append(byClass[l], i)
	}
	for l := range byClass {
		classes = append(classes, l)
	}
	sort.Ints(classes)
	return classes, byClass
}

// balancedBase holds what both class-balanced samplers share: per-class
// index lists with a read position that persists across epochs, reshuffled
// when the next take would run past the end.
type balancedBase struct {
	classes      []int
	lists        [][]int
	used         []int
	batchClasses int
	sampleCount  int
	n            int
	rng          *rand.Rand
}

func newBalancedBase(labels []int, batchClasses, sampleCount int, seed uint64) (*balancedBase, error) {
	classes, byClass := classIndex(labels)
	if batchClasses < 1 || sampleCount < 1 {
		return nil, fmt.Errorf("data: balanced sampler needs batch_classes and sample_count >= 1, got %d and %d", batchClasses, sampleCount)
	}
	if batchClasses > len(classes) {
		return nil, fmt.Errorf("data: batch_classes %d is more than the %d classes present", batchClasses, len(classes))
	}
	b := &balancedBase{classes: classes, batchClasses: batchClasses, sampleCount: sampleCount, n: len(labels),
		rng: rand.New(rand.NewPCG(seed, 0x5a5a_0001))}
	for _, c := range classes {
		if len(byClass[c]) < sampleCount {
			return nil, fmt.Errorf("data: class %d has %d images, fewer than sample_count %d", c, len(byClass[c]), sampleCount)
		}
		b.lists = append(b.lists, byClass[c])
	}
	b.used = make([]int, len(classes))
	return b, nil
}

// take appends the next sampleCount indices of class k, then reshuffles
// that class's list when another take would not fit.
func (b *balancedBase) take(dst []int, k int) []int {
	u := b.used[k]
	dst = append(dst, b.lists[k][u:u+b.sampleCount]...)
	b.used[k] += b.sampleCount
	if b.used[k]+b.sampleCount > len(b.lists[k]) {
		b.shuffle(k)
		b.used[k] = 0
	}
	return dst
}

func (b *balancedBase) shuffle(k int) {
	l := b.lists[k]
	b.rng.Shuffle(len(l), func(i, j int) { l[i], l[j] = l[j], l[i] })
}

// batches is the reference's loop: `while seen + B < N`, so an epoch has
// floor((N-1)/B) batches.
func (b *balancedBase) batches(pick func() []int) [][]int {
	bs := b.batchClasses * b.sampleCount
	var out [][]int
	for seen := 0; seen+bs < b.n; seen += bs {
		batch := make([]int, 0, bs)
		for _, k := range pick() {
			batch = b.take(batch, k)
		}
		out = append(out, batch)
	}
	return out
}

// BalancedSampler is the class-balanced training sampler of METHOD.md
// section 2: each batch draws batch_classes distinct classes uniformly at
// random, then sample_count images of each, taken in order from a
// per-class list shuffled at the start and reshuffled when the next take
// would run past its end. Positions carry over between epochs.
type BalancedSampler struct{ b *balancedBase }

// NewBalancedSampler makes a balanced sampler over labels. Every class
// must have at least sampleCount images.
func NewBalancedSampler(labels []int, batchClasses, sampleCount int, seed uint64) (*BalancedSampler, error) {
	b, err := newBalancedBase(labels, batchClasses, sampleCount, seed)
	if err != nil {
		return nil, err
	}
	for k := range b.lists {
		b.lists[k] = append([]int(nil), b.lists[k]...)
		b.shuffle(k)
	}
	return &BalancedSampler{b: b}, nil
}

// Epoch returns the next epoch's batches.
func (s *BalancedSampler) Epoch() [][]int {
	b := s.b
	perm := make([]int, len(b.classes))
	return b.batches(func() []int {
		for i := range perm {
			perm[i] = i
		}
		// A uniformly random ordered choice without replacement, like
		// np.random.choice(..., replace=False).
		for i := 0; i < b.batchClasses; i++ {
			j := i + b.rng.IntN(len(perm)-i)
			perm[i], perm[j] = perm[j], perm[i]
		}
		return perm[:b.batchClasses]
	})
}

// RoundRobinSampler is the reference's test-time sampler (METHOD.md section
// 4): batches of batch_classes consecutive classes in label order, cycling,
// sample_count images each; each class's list starts in dataset order (not
// shuffled) and is shuffled when the next take would run past its end. The
// class cycle restarts at the first class every epoch; list positions carry
// over.
type RoundRobinSampler struct{ b *balancedBase }

// NewRoundRobinSampler makes the test-time sampler over labels.
func NewRoundRobinSampler(labels []int, batchClasses, sampleCount int, seed uint64) (*RoundRobinSampler, error) {
	b, err := newBalancedBase(labels, batchClasses, sampleCount, seed)
	if err != nil {
		return nil, err
	}
	for k := range b.lists {
		b.lists[k] = append([]int(nil), b.lists[k]...)
	}
	return &RoundRobinSampler{b: b}, nil
}

// Epoch returns the next epoch's batches.
func (s *RoundRobinSampler) Epoch() [][]int {
	b := s.b
	cur := 0
	ks := make([]int, b.batchClasses)
	return b.batches(func() []int {
		for i := range ks {
			ks[i] = cur
			if cur++; cur == len(b.classes) {
				cur = 0
			}
		}
		return ks
	})
}

// SequentialSampler gives indices 0..N-1 in order in batches of BatchSize,
// the last one shorter unless DropLast.
type SequentialSampler struct {
	N, BatchSize int
	DropLast     bool
}

// Epoch returns the batches.
func (s SequentialSampler) Epoch() [][]int {
	bs := s.BatchSize
	if bs < 1 {
		bs = max(s.N, 1)
	}
	var out [][]int
	for lo := 0; lo < s.N; lo += bs {
		hi := min(lo+bs, s.N)
		if hi-lo < bs && s.DropLast {
			break
		}
		b := make([]int, hi-lo)
		for i := range b {
			b[i] = lo + i
		}
		out = append(out, b)
	}
	return out
}
