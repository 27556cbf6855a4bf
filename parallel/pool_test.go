package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vmdls-go/vmdls/internal/allocs"
)

// checkCover runs ForThreads(threads, n, grain) and checks that every index is
// visited exactly once, in chunks of at least grain (but the last) and no
// more chunks than threads.
func checkCover(t *testing.T, threads, n, grain int) {
	t.Helper()
	seen := make([]int32, n)
	var chunks atomic.Int32
	var short atomic.Int32
	ForThreads(threads, n, grain, func(lo, hi int) {
		chunks.Add(1)
		if hi-lo < grain && hi != n {
			short.Add(1)
		}
		for i := lo; i < hi; i++ {
			atomic.AddInt32(&seen[i], 1)
		}
	})
	for i, s := range seen {
		if s != 1 {
			t.Fatalf("threads=%d n=%d grain=%d: index %d visited %d times", threads, n, grain, i, s)
		}
	}
	if c := int(chunks.Load()); n > 0 && (c > threads || c < 1) {
		t.Errorf("threads=%d n=%d grain=%d: %d chunks", threads, n, grain, c)
	}
	if short.Load() != 0 {
		t.Errorf("threads=%d n=%d grain=%d: a chunk other than the last is shorter than grain", threads, n, grain)
	}
}

func TestForCovers(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		for _, n := range []int{0, 1, 2, 7, 100, 1001} {
			for _, grain := range []int{0, 1, 3, 64, 5000} {
				checkCover(t, threads, n, grain)
			}
		}
	}
}

// TestForConcurrentNested runs For from many goroutines at
// once, each body itself calling For twice deep: it must finish
// (no deadlock) and cover every index. Run under -race by CI.
func TestForConcurrentNested(t *testing.T) {
	prev := SetThreads(4)
	defer SetThreads(prev)
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := 0; it < 20; it++ {
				For(8, 1, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						For(10, 2, func(lo, hi int) {
							For(hi-lo, 1, func(lo, hi int) { total.Add(int64(hi - lo)) })
						})
					}
				})
			}
		}()
	}
	wg.Wait()
	if want := int64(8 * 20 * 8 * 10); total.Load() != want {
		t.Fatalf("visited %d items, want %d", total.Load(), want)
	}
}

func TestSetThreads(t *testing.T) {
	orig := SetThreads(3)
	defer SetThreads(orig)
	if Threads() != 3 {
		t.Fatalf("Threads() = %d after SetThreads(3)", Threads())
	}
	if prev := SetThreads(0); prev != 3 {
		t.Errorf("SetThreads returned %d, want the previous 3", prev)
	}
	if Threads() != runtime.GOMAXPROCS(0) {
		t.Errorf("Threads() = %d after SetThreads(0), want GOMAXPROCS %d", Threads(), runtime.GOMAXPROCS(0))
	}
}

// TestForAllocs checks that the pool itself allocates nothing per
// call once warm.
func TestForAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	var sink atomic.Int64
	fn := func(lo, hi int) { sink.Add(int64(hi - lo)) }
	ForThreads(2, 100, 1, fn)
	if a := allocs.PerRun(100, func() { ForThreads(2, 100, 1, fn) }); a != 0 {
		t.Errorf("%v allocations per For, want 0", a)
	}
}
