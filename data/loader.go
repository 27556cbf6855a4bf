package data

import (
	"errors"
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

// Iter delivers one epoch's batches in order. An Iter dropped without
// Close is stopped when the garbage collector finds it unreachable, so an
// abandoned epoch does not keep its goroutines and batches forever.
type Iter struct {
	// The goroutines hold only s, never the Iter, so that the Iter can
	// become unreachable while they are blocked and its cleanup stop them.
	s *iterState
}

// iterState is what an epoch's producer, workers and consumer share.
type iterState struct {
	out  chan *pending
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	// err is the consumer's: set and read only by Next and Err.
	err error
}

// halt tells the producer and workers to stop; it does not wait.
func (s *iterState) halt() { s.once.Do(func() { close(s.stop) }) }

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
// reports false, then Err; Close stops early and releases the goroutines.
func (l *Loader) Epoch(epoch int, batches [][]int) *Iter {
	s := &iterState{out: make(chan *pending, l.opt.Prefetch), stop: make(chan struct{})}
	tasks := make(chan task, 256)
	for w := 0; w < l.opt.Workers; w++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			l.worker(epoch, tasks, s.stop)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(tasks)
		defer close(s.out)
		var seq uint64
		for _, idx := range batches {
			p := &pending{done: make(chan struct{})}
			p.b = &Batch{X: tensor.Zeros(len(idx), l.c, l.h, l.w), Labels: make([]int, len(idx)), Indices: append([]int(nil), idx...)}
			p.left.Store(int32(len(idx)))
			if len(idx) == 0 {
				close(p.done)
			}
			select {
			case s.out <- p:
			case <-s.stop:
				return
			}
			for pos, i := range idx {
				select {
				case tasks <- task{p: p, pos: pos, seq: seq, item: i}:
				case <-s.stop:
					return
				}
				seq++
			}
		}
	}()
	it := &Iter{s: s}
	runtime.AddCleanup(it, (*iterState).halt, s)
	return it
}

// sampleRNG returns the generator for sample number seq of an epoch.
func sampleRNG(src *rand.PCG, seed uint64, epoch int, seq uint64) *rand.Rand {
	src.Seed(seed^0x6a09e667f3bcc909, uint64(epoch)<<40^seq)
	return rand.New(src)
}

func (l *Loader) worker(epoch int, tasks <-chan task, stop <-chan struct{}) {
	src := rand.NewPCG(0, 0)
	for t := range tasks {
		select {
		case <-stop:
			// Nobody will take the batch: drain without the work.
		default:
			if err := l.run(t, sampleRNG(src, l.opt.Seed, epoch, t.seq)); err != nil {
				t.p.mu.Lock()
				if t.p.err == nil {
					t.p.err = err
				}
				t.p.mu.Unlock()
			}
		}
		if t.p.left.Add(-1) == 0 {
			close(t.p.done)
		}
	}
}

// run fills one sample of a batch. A panic (a transform or dataset bug, or
// input they did not expect) becomes the sample's error, naming the item's
// file, instead of killing the process from a goroutine nobody can recover.
func (l *Loader) run(t task, rng *rand.Rand) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = l.itemErr(t.item, fmt.Errorf("panic in loader worker: %v", r))
		}
	}()
	n := l.c * l.h * l.w
	dst := t.p.b.X.Data()[t.pos*n : (t.pos+1)*n]
	if err := l.sample(t.item, dst, rng); err != nil {
		return err
	}
	t.p.b.Labels[t.pos] = l.ds.Label(t.item)
	return nil
}

func (l *Loader) sample(item int, dst []float32, rng *rand.Rand) error {
	if fd, ok := floatItems(l.ds); ok {
		// The reference's noise images bypass the transform pipeline.
		return fd.Float(item, dst)
	}
	img, err := l.ds.Image(item)
	if err != nil {
		// Folder errors already name the archive member.
		var fe *FormatError
		if errors.As(err, &fe) {
			return err
		}
		return l.itemErr(item, err)
	}
	if _, _, _, err := l.tf.Run(img, rng, dst); err != nil {
		return l.itemErr(item, err)
	}
	return nil
}

// itemErr names item's file in err when the dataset knows it, else its
// index.
func (l *Loader) itemErr(item int, err error) error {
	if name := itemName(l.ds, item); name != "" {
		return wrapErr(name, "cannot load", err)
	}
	return fmt.Errorf("data: item %d: %w", item, err)
}

// itemName returns the file name of item i of ds ("archive:member"), looking
// through Subsets, or "" when ds has none (in-memory arrays).
func itemName(ds Dataset, i int) string {
	for {
		s, ok := ds.(*Subset)
		if !ok {
			break
		}
		if i < 0 || i >= len(s.Indices) {
			return ""
		}
		ds, i = s.Base, s.Indices[i]
	}
	if n, ok := ds.(interface{ ItemName(int) string }); ok {
		return n.ItemName(i)
	}
	return ""
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

// Next returns the next batch, or false at the end of the epoch, after an
// error (see Err) or after Close.
func (it *Iter) Next() (*Batch, bool) {
	s := it.s
	if s.err != nil {
		return nil, false
	}
	select {
	case <-s.stop:
		return nil, false
	default:
	}
	var p *pending
	var ok bool
	select {
	case p, ok = <-s.out:
	case <-s.stop:
		return nil, false
	}
	if !ok {
		return nil, false
	}
	select {
	case <-p.done:
	case <-s.stop:
		// Closed while the batch was being made; the producer may have
		// stopped before queuing all its samples, so done might never come.
		return nil, false
	}
	if p.err != nil {
		s.err = p.err
		it.Close()
		return nil, false
	}
	return p.b, true
}

// Err returns the first error met, if any.
func (it *Iter) Err() error { return it.s.err }

// Close stops producing batches and waits for the producer and workers to
// finish. It may be called more than once, and Next after it reports false.
func (it *Iter) Close() {
	s := it.s
	s.halt()
	s.wg.Wait()
	// The producer has closed out; drop the batches queued in it.
	for range s.out {
	}
}
