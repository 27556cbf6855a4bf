package memtune

import (
	"runtime"
	"runtime/debug"
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

// withEnv makes lookupEnv see only env for the test.
func withEnv(t *testing.T, env map[string]string) {
	saved := lookupEnv
	lookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	t.Cleanup(func() { lookupEnv = saved })
}

// An explicit GOGC is the user's: TuneGC leaves the percent as it is.
func TestTuneGCRespectsGOGC(t *testing.T) {
	withEnv(t, map[string]string{"GOGC": "300"})
	before := debug.SetGCPercent(300)
	defer debug.SetGCPercent(before)
	stop := TuneGC()
	defer stop()
	if p := debug.SetGCPercent(300); p != 300 {
		t.Errorf("TuneGC with GOGC set changed the percent to %d", p)
	}
}

func TestLazyFreeGODEBUG(t *testing.T) {
	if !restartable {
		t.Skip("pages are returned lazily only on Linux")
	}
	for _, c := range []struct {
		cur, want string
		change    bool
	}{
		{"", "madvdontneed=0", true},
		{"gctrace=1", "gctrace=1,madvdontneed=0", true},
		{"madvdontneed=1", "madvdontneed=1", false}, // the user's choice stands
		{"gctrace=1, madvdontneed=0", "gctrace=1, madvdontneed=0", false},
	} {
		got, change := lazyFreeGODEBUG(c.cur)
		if got != c.want || change != c.change {
			t.Errorf("lazyFreeGODEBUG(%q) = %q, %v; want %q, %v", c.cur, got, change, c.want, c.change)
		}
		if !pagesReturnedLazily(got) && c.change {
			t.Errorf("pagesReturnedLazily(%q) = false after the change", got)
		}
	}
	for _, c := range []struct {
		v    string
		want bool
	}{
		{"", false},
		{"madvdontneed=0", true},
		{"madvdontneed=0,madvdontneed=1", false}, // the last one wins
		{"madvdontneed=1,madvdontneed=0", true},
		{"gctrace=1", false},
	} {
		withEnv(t, map[string]string{"GODEBUG": c.v})
		if got := PagesReturnedLazily(); got != c.want {
			t.Errorf("PagesReturnedLazily() with GODEBUG=%q = %v, want %v", c.v, got, c.want)
		}
	}
}
