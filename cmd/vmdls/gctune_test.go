package main

import (
	"runtime"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{50 << 20, 100}, // small heaps keep Go's default
		{256 << 20, 25}, // 64 MiB of slack
		{512 << 20, 12}, //
		{4 << 30, 10},   // large heaps: 10%
		{100 << 30, 10}, // never below 10
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// The tuner runs after every collection and sets the percent that the live
// heap calls for.
func TestTuneGCFollowsCollections(t *testing.T) {
	got := make(chan int, 16)
	stop := tuneGC(func(p int) {
		select {
		case got <- p:
		default:
		}
	})
	defer stop()
	for i := 0; i < 2; i++ {
		runtime.GC()
		select {
		case p := <-got:
			if p != 100 { // a test binary's live heap is far below 64 MiB
				t.Errorf("collection %d: percent %d, want 100 for a small heap", i+1, p)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("collection %d: the tuner did not run", i+1)
		}
	}
}
