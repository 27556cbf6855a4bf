package data

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestLoaderSmallImageForCrop: an image smaller than RandomCrop's crop (even
// padded) is an error naming its file, not a panic in a worker.
func TestLoaderSmallImageForCrop(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		"a/big.png":  noisePNG(t, 32, 32, 1),
		"a/tiny.png": noisePNG(t, 20, 20, 2),
	})
	f, err := OpenFolder(dir, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tf, _ := Pipeline("cifar", true)
	l := NewLoader(f, tf, LoaderOptions{Workers: 2})
	it := l.Epoch(0, [][]int{{0, 1}})
	defer it.Close()
	if _, ok := it.Next(); ok {
		t.Fatal("batch with an image smaller than the crop delivered")
	}
	err = it.Err()
	if err == nil || !strings.Contains(err.Error(), "tiny.png") || !strings.Contains(err.Error(), "smaller than RandomCrop") {
		t.Fatalf("error %v does not name tiny.png and the crop", err)
	}
	// The same image through a Subset (as ovd filters labels) is named too.
	it2 := NewLoader(FilterLabels(f, func(int) bool { return true }), tf, LoaderOptions{Workers: 1}).Epoch(0, [][]int{{1}})
	defer it2.Close()
	if _, ok := it2.Next(); ok || it2.Err() == nil || !strings.Contains(it2.Err().Error(), "tiny.png") {
		t.Fatalf("through a Subset: %v", it2.Err())
	}
	// Apply alone no longer panics either.
	out := RandomCrop{H: 32, W: 32, Padding: 4}.Apply(NewImage(1, 20, 20), rand.New(rand.NewPCG(1, 2)))
	if out.H != 32 || out.W != 32 {
		t.Fatalf("Apply on a small image gave %dx%d", out.W, out.H)
	}
}

// panicky is a transform that panics, standing for any bug a worker meets.
type panicky struct{}

func (panicky) Apply(*Image, *rand.Rand) *Image      { panic("boom") }
func (panicky) OutShape(c, h, w int) (int, int, int) { return c, h, w }

// TestLoaderWorkerPanic: a panic in a worker becomes Err, naming the file
// (or the item of an in-memory dataset), and the loader shuts down.
func TestLoaderWorkerPanic(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"c/x.png": noisePNG(t, 8, 8, 3)})
	f, err := OpenFolder(dir, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tf := &Compose{Image: []ImageTransform{panicky{}}}
	it := NewLoader(f, tf, LoaderOptions{Workers: 3}).Epoch(0, [][]int{{0}})
	if _, ok := it.Next(); ok {
		t.Fatal("batch delivered after a panic")
	}
	if err := it.Err(); err == nil || !strings.Contains(err.Error(), "x.png") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic error %v does not name x.png and the panic", err)
	}
	it.Close()
	mem := synthetic(4, 1, 8, 8)
	it = NewLoader(mem, tf, LoaderOptions{Workers: 2}).Epoch(0, [][]int{{0, 1}, {2, 3}})
	defer it.Close()
	if _, ok := it.Next(); ok || it.Err() == nil || !strings.Contains(it.Err().Error(), "item ") {
		t.Fatalf("in-memory panic: %v", it.Err())
	}
	// An index past the dataset panics inside the Memory dataset: an error too.
	it3 := NewLoader(mem, nil, LoaderOptions{Workers: 1}).Epoch(0, [][]int{{99}})
	defer it3.Close()
	if _, ok := it3.Next(); ok || it3.Err() == nil {
		t.Fatal("out-of-range index did not fail")
	}
}

// settleGoroutines runs the collector until the goroutine count falls to
// want or the deadline passes, and returns the last count.
func settleGoroutines(want int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		runtime.GC()
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIterAbandoned: an iterator dropped mid-epoch without Close stops its
// producer and workers once collected.
func TestIterAbandoned(t *testing.T) {
	ds := synthetic(2000, 1, 28, 28)
	l := NewLoader(ds, nil, LoaderOptions{Workers: 4, Prefetch: 1})
	// One whole epoch first, so that goroutines started once per process
	// (a worker pool) are in the baseline.
	collect(t, l, 0, SequentialSampler{N: 30, BatchSize: 10}.Epoch())
	before := settleGoroutines(0, 0)
	func() {
		it := l.Epoch(0, SequentialSampler{N: 2000, BatchSize: 10}.Epoch())
		if _, ok := it.Next(); !ok {
			t.Fatal(it.Err())
		}
		// Dropped here: the producer is blocked on the full queue and the
		// workers on the task channel.
	}()
	if n := runtime.NumGoroutine(); n < before+5 {
		t.Logf("only %d goroutines running after Epoch (baseline %d)", n, before)
	}
	if n := settleGoroutines(before, 10*time.Second); n > before {
		t.Fatalf("%d goroutines after the abandoned iterator was collected, %d before", n, before)
	}
}

// TestIterNextAfterClose: Next after Close (at any point of the epoch)
// reports false at once, and Close is idempotent.
func TestIterNextAfterClose(t *testing.T) {
	ds := synthetic(500, 1, 28, 28)
	collect(t, NewLoader(ds, nil, LoaderOptions{Workers: 3}), 0, SequentialSampler{N: 14, BatchSize: 7}.Epoch())
	before := settleGoroutines(0, 0)
	for _, take := range []int{0, 1, 3} {
		l := NewLoader(ds, nil, LoaderOptions{Workers: 3, Prefetch: 2})
		it := l.Epoch(0, SequentialSampler{N: 500, BatchSize: 7}.Epoch())
		for k := 0; k < take; k++ {
			if _, ok := it.Next(); !ok {
				t.Fatal(it.Err())
			}
		}
		it.Close()
		done := make(chan bool)
		go func() {
			_, ok := it.Next()
			done <- ok
		}()
		select {
		case ok := <-done:
			if ok {
				t.Fatalf("after %d batches: Next after Close delivered a batch", take)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("after %d batches: Next after Close blocked", take)
		}
		it.Close()
		if it.Err() != nil {
			t.Fatalf("Close set an error: %v", it.Err())
		}
	}
	if n := settleGoroutines(before, 10*time.Second); n > before {
		t.Fatalf("%d goroutines after closing, %d before", n, before)
	}
}

// TestIterCloseDuringNext: Close from another goroutine releases a Next
// waiting for a batch that will never be finished.
func TestIterCloseDuringNext(t *testing.T) {
	ds := synthetic(50, 1, 8, 8)
	gate := make(chan struct{})
	tf := &Compose{Image: []ImageTransform{blockingTransform{gate}}}
	it := NewLoader(ds, tf, LoaderOptions{Workers: 1}).Epoch(0, [][]int{{0, 1, 2}})
	done := make(chan bool)
	go func() {
		_, ok := it.Next()
		done <- ok
	}()
	time.Sleep(20 * time.Millisecond)
	closed := make(chan struct{})
	go func() {
		it.Close()
		close(closed)
	}()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("Next delivered a batch during Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next blocked after Close")
	}
	close(gate) // let the worker finish its sample so Close can return
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

// blockingTransform waits for gate before passing its image on.
type blockingTransform struct{ gate chan struct{} }

func (b blockingTransform) Apply(img *Image, _ *rand.Rand) *Image {
	<-b.gate
	return img
}

func (blockingTransform) OutShape(c, h, w int) (int, int, int) { return c, h, w }
