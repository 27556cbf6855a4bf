package microbatch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// double is a batch function that records the sizes it was called with.
type double struct {
	mu    sync.Mutex
	sizes []int
	block chan struct{} // when set, each batch waits on it
}

func (d *double) run(_ context.Context, in []int) ([]int, error) {
	if d.block != nil {
		<-d.block
	}
	d.mu.Lock()
	d.sizes = append(d.sizes, len(in))
	d.mu.Unlock()
	out := make([]int, len(in))
	for i, v := range in {
		if v < 0 {
			return nil, fmt.Errorf("negative item %d", v)
		}
		out[i] = 2 * v
	}
	return out, nil
}

// TestConcurrentCallsShareBatches: 64 concurrent calls each get their own
// items doubled, in order, in fewer batches than calls, none over the cap.
func TestConcurrentCallsShareBatches(t *testing.T) {
	d := &double{}
	b := New(d.run, 16, 20*time.Millisecond)
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for c := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := []int{c, c + 1000}
			out, err := b.Submit(context.Background(), in)
			if err != nil {
				errs <- err
				return
			}
			if len(out) != 2 || out[0] != 2*c || out[1] != 2*(c+1000) {
				errs <- fmt.Errorf("call %d got %v", c, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for _, s := range d.sizes {
		if s > 16 {
			t.Errorf("a batch of %d items, over the cap of 16", s)
		}
		total += s
	}
	if total != 128 || len(d.sizes) >= 64 {
		t.Errorf("batches %v: want 128 items in fewer than 64 batches", d.sizes)
	}
}

// TestOversizedCallRunsAlone: a call over the cap is one batch, whole.
func TestOversizedCallRunsAlone(t *testing.T) {
	d := &double{}
	b := New(d.run, 4, time.Millisecond)
	defer b.Close()
	out, err := b.Submit(context.Background(), []int{1, 2, 3, 4, 5, 6})
	if err != nil || len(out) != 6 || out[5] != 12 {
		t.Fatalf("got %v, %v", out, err)
	}
	if len(d.sizes) != 1 || d.sizes[0] != 6 {
		t.Errorf("batches %v, want [6]", d.sizes)
	}
}

// TestErrorGoesToItsCall: a bad item fails only the call that sent it.
func TestErrorGoesToItsCall(t *testing.T) {
	d := &double{block: make(chan struct{})}
	b := New(d.run, 8, 50*time.Millisecond)
	defer b.Close()
	type res struct {
		out []int
		err error
	}
	good, bad := make(chan res, 1), make(chan res, 1)
	go func() { o, e := b.Submit(context.Background(), []int{3}); good <- res{o, e} }()
	go func() { o, e := b.Submit(context.Background(), []int{-1}); bad <- res{o, e} }()
	time.Sleep(10 * time.Millisecond)
	close(d.block)
	if r := <-good; r.err != nil || len(r.out) != 1 || r.out[0] != 6 {
		t.Errorf("good call: %v %v", r.out, r.err)
	}
	if r := <-bad; r.err == nil {
		t.Errorf("bad call succeeded: %v", r.out)
	}
}

// TestCancelledAndClosed: a cancelled call returns its context's error;
// after Close, Submit is ErrClosed and no goroutine is left.
func TestCancelledAndClosed(t *testing.T) {
	before := runtime.NumGoroutine()
	d := &double{block: make(chan struct{})}
	b := New(d.run, 8, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := b.Submit(ctx, []int{1}); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v", err)
	}
	close(d.block)
	b.Close()
	if _, err := b.Submit(context.Background(), []int{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before", n, before)
	}
}
