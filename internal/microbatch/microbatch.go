// Package microbatch gathers the work of concurrent callers into batches
// that one function runs at a time: a server whose model is faster per
// item on a batch than on one item answers many small requests with few
// forward passes.
package microbatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrClosed is what Submit returns once the Batcher is closed.
var ErrClosed = errors.New("microbatch: closed")

// Func runs one batch: out[i] answers in[i]. It is called from one
// goroutine at a time.
type Func[In, Out any] func(ctx context.Context, in []In) ([]Out, error)

// Batcher runs the items of concurrent Submit calls in batches of at most
// MaxBatch items: a batch starts when it is full or MaxWait after its
// first call arrived, whichever is first. The items of one call stay
// together and in order; a call of more than MaxBatch items is a batch of
// its own.
type Batcher[In, Out any] struct {
	run      Func[In, Out]
	maxBatch int
	maxWait  time.Duration
	jobs     chan *job[In, Out]
	quit     chan struct{}
	done     chan struct{}
	close    sync.Once
	// Batches, when set before the first Submit, is told the size of every
	// batch run (for metrics).
	Batches func(items int)
}

type job[In, Out any] struct {
	ctx context.Context
	in  []In
	out chan result[Out]
}

type result[Out any] struct {
	out []Out
	err error
}

// New starts a Batcher; Close stops it. maxBatch < 1 is 1, maxWait < 0 is
// 0 (a batch takes only the calls already waiting).
func New[In, Out any](run Func[In, Out], maxBatch int, maxWait time.Duration) *Batcher[In, Out] {
	b := &Batcher[In, Out]{run: run, maxBatch: max(maxBatch, 1), maxWait: max(maxWait, 0),
		jobs: make(chan *job[In, Out]), quit: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// Submit runs in as part of a batch and returns its results. A ctx done
// before the batch starts abandons the call (ctx's error); one done while
// the batch runs does not stop the batch, whose other callers still want
// their answers, but Submit returns at once.
func (b *Batcher[In, Out]) Submit(ctx context.Context, in []In) ([]Out, error) {
	if len(in) == 0 {
		return nil, nil
	}
	j := &job[In, Out]{ctx: ctx, in: in, out: make(chan result[Out], 1)}
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.quit:
		return nil, ErrClosed
	}
	select {
	case r := <-j.out:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops taking calls, waits for the batch running to finish and
// returns; calls waiting for a batch then get ErrClosed.
func (b *Batcher[In, Out]) Close() {
	b.close.Do(func() { close(b.quit) })
	<-b.done
}

func (b *Batcher[In, Out]) loop() {
	defer close(b.done)
	var held *job[In, Out] // a call that did not fit the last batch
	for {
		first := held
		held = nil
		if first == nil {
			select {
			case first = <-b.jobs:
			case <-b.quit:
				return
			}
		}
		batch := []*job[In, Out]{first}
		n := len(first.in)
		timer := time.NewTimer(b.maxWait)
	gather:
		for n < b.maxBatch {
			select {
			case j := <-b.jobs:
				if n+len(j.in) > b.maxBatch {
					held = j
					break gather
				}
				batch = append(batch, j)
				n += len(j.in)
			case <-timer.C:
				break gather
			case <-b.quit:
				break gather
			}
		}
		timer.Stop()
		b.runBatch(batch)
		select {
		case <-b.quit:
			if held != nil {
				held.out <- result[Out]{err: ErrClosed}
			}
			return
		default:
		}
	}
}

// runBatch runs the calls of batch still wanted as one call of run and
// hands each its part.
func (b *Batcher[In, Out]) runBatch(batch []*job[In, Out]) {
	var live []*job[In, Out]
	var in []In
	for _, j := range batch {
		if j.ctx.Err() != nil {
			j.out <- result[Out]{err: j.ctx.Err()}
			continue
		}
		live = append(live, j)
		in = append(in, j.in...)
	}
	if len(live) == 0 {
		return
	}
	if b.Batches != nil {
		b.Batches(len(in))
	}
	out, err := b.run(context.Background(), in)
	if err == nil && len(out) != len(in) {
		err = fmt.Errorf("microbatch: the batch function returned %d results for %d items", len(out), len(in))
	}
	if err != nil {
		// One bad item fails the batch; each call is then run alone, so
		// that the error goes to the call that caused it.
		if len(live) > 1 {
			for _, j := range live {
				b.runBatch([]*job[In, Out]{j})
			}
			return
		}
		live[0].out <- result[Out]{err: err}
		return
	}
	lo := 0
	for _, j := range live {
		j.out <- result[Out]{out: out[lo : lo+len(j.in) : lo+len(j.in)]}
		lo += len(j.in)
	}
}
