package data

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/vmdls-go/vmdls/tensor"
)

// Batch is a batch of transformed images and their labels.
type Batch struct {
	// X is N x C x H x W float32.
	X *tensor.Tensor
	// Labels and Indices (into the dataset) follow X's first dimension.
	Labels  []int
	Indices []int
}

// LoaderOptions configure a Loader.
type LoaderOptions struct {
	// Workers decode and transform samples in parallel; 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
	// Prefetch is how many batches may be prepared ahead of the consumer;
	// 0 means 2.
	Prefetch int
	// Seed fixes every random choice of the transforms.
	Seed uint64
}

// Loader turns a dataset, a transform pipeline and batches of indices into
// float32 NCHW batches, decoding and transforming samples in parallel
// goroutines straight into the batch tensor. Each sample's random
// transform draws from its own generator seeded by (Seed, epoch, position
// in the epoch), so the batches are the same whatever the number of
// workers.
type Loader struct {
	ds   Dataset
	tf   *Compose
	opt  LoaderOptions
	c    int
	h, w int
}

// NewLoader makes a loader. tf may be nil for plain ToTensor.
func NewLoader(ds Dataset, tf *Compose, opt LoaderOptions) *Loader {
	if tf == nil {
		tf = &Compose{}
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Prefetch <= 0 {
		opt.Prefetch = 2
	}
	c, h, w := ds.Shape()
	if _, ok := floatItems(ds); !ok {
		c, h, w = tf.OutShape(c, h, w)
	}
	return &Loader{ds: ds, tf: tf, opt: opt, c: c, h: h, w: w}
}

// SampleShape returns the C, H, W of every sample the loader produces.
func (l *Loader) SampleShape() (int, int, int) { return l.c, l.h, l.w }

// Iter delivers one epoch's batches in order.
type Iter struct {
	out  chan *pending
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	err  error
}

type pending struct {
	b    *Batch
	left atomic.Int32
	done chan struct{}
	mu   sync.Mutex
	err  error
}

type task struct {
	p    *pending
	pos  int // position within the batch
	seq  uint64
	item int
}

// Epoch starts producing the given batches for epoch number epoch (which
// seeds the transforms together with the loader's seed). Call Next until it
// reports false, then Err; Close stops early.
func (l *Loader) Epoch(epoch int, batches [][]int) *Iter {
	it := &Iter{out: make(chan *pending, l.opt.Prefetch), stop: make(chan struct{})}
	tasks := make(chan task, 256)
	for w := 0; w < l.opt.Workers; w++ {
		it.wg.Add(1)
		go func() {
			defer it.wg.Done()
			l.worker(epoch, tasks)
		}()
	}
	go func() {
		defer close(tasks)
		defer close(it.out)
		var seq uint64
		for _, idx := range batches {
			p := &pending{done: make(chan struct{})}
			p.b = &Batch{X: tensor.Zeros(len(idx), l.c, l.h, l.w), Labels: make([]int, len(idx)), Indices: append([]int(nil), idx...)}
			p.left.Store(int32(len(idx)))
			if len(idx) == 0 {
				close(p.done)
			}
			select {
			case it.out <- p:
			case <-it.stop:
				return
			}
			for pos, i := range idx {
				select {
				case tasks <- task{p: p, pos: pos, seq: seq, item: i}:
				case <-it.stop:
					return
				}
				seq++
			}
		}
	}()
	return it
}

// sampleRNG returns the generator for sample number seq of an epoch.
func sampleRNG(src *rand.PCG, seed uint64, epoch int, seq uint64) *rand.Rand {
	src.Seed(seed^0x6a09e667f3bcc909, uint64(epoch)<<40^seq)
	return rand.New(src)
}

func (l *Loader) worker(epoch int, tasks <-chan task) {
	src := rand.NewPCG(0, 0)
	n := l.c * l.h * l.w
	for t := range tasks {
		dst := t.p.b.X.Data()[t.pos*n : (t.pos+1)*n]
		err := l.sample(t.item, dst, sampleRNG(src, l.opt.Seed, epoch, t.seq))
		t.p.b.Labels[t.pos] = l.ds.Label(t.item)
		if err != nil {
			t.p.mu.Lock()
			if t.p.err == nil {
				t.p.err = err
			}
			t.p.mu.Unlock()
		}
		if t.p.left.Add(-1) == 0 {
			close(t.p.done)
		}
	}
}

func (l *Loader) sample(item int, dst []float32, rng *rand.Rand) error {
	if fd, ok := floatItems(l.ds); ok {
		// The reference's noise images bypass the transform pipeline.
		return fd.Float(item, dst)
	}
	img, err := l.ds.Image(item)
	if err != nil {
		return err
	}
	if _, _, _, err := l.tf.Run(img, rng, dst); err != nil {
		return fmt.Errorf("data: item %d: %w", item, err)
	}
	return nil
}

// floatItems returns ds as a FloatDataset when its items are float
// samples. A Subset has the Float method whatever its base, so it counts
// only when its base does.
func floatItems(ds Dataset) (FloatDataset, bool) {
	if s, ok := ds.(*Subset); ok {
		if _, ok := floatItems(s.Base); !ok {
			return nil, false
		}
		return s, true
	}
	fd, ok := ds.(FloatDataset)
	return fd, ok
}

// Next returns the next batch, or false at the end of the epoch or after
// an error (see Err).
func (it *Iter) Next() (*Batch, bool) {
	if it.err != nil {
		return nil, false
	}
	p, ok := <-it.out
	if !ok {
		return nil, false
	}
	<-p.done
	if p.err != nil {
		it.err = p.err
		it.Close()
		return nil, false
	}
	return p.b, true
}

// Err returns the first error met, if any.
func (it *Iter) Err() error { return it.err }

// Close stops producing batches and waits for the workers to finish.
func (it *Iter) Close() {
	it.once.Do(func() {
		close(it.stop)
		// Drain so the producer is not blocked on a full queue.
		go func() {
			for range it.out {
			}
		}()
	})
	it.wg.Wait()
}
