package memtune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The allowance TuneGC gives the heap over its live bytes. A collection
// never scans tensor storage (no pointers), so what a cycle costs is a
// roughly fixed price, not marking: peak memory wants a small allowance,
// speed wants few cycles per training step. Measured on `vmdls bench
// train-step` (2 threads, peak RSS): densenet at GOGC=100 peaked at 7.9 GB,
// at 10 at 4.6 GB for about the same speed; mnist-conv, whose live heap is
// ~300 MB, ran at 156 images/s with GOGC=100 and at 88 with 10 (a cycle
// every 30 MB): hence a floor. With 128 MiB of floor mnist-conv ran at 157
// images/s in 523 MB, vgg at 40 in 878 MB, resnet18 at 33 in 921 MB (256 MiB
// put vgg's peak above PyTorch's). Once freed pages were returned lazily a
// cycle cost less, and 64 MiB was measured against 128: mnist-conv training
// 190 vs 193 images/s (medians of 3) in 444-508 vs 548-561 MiB; vgg training
// peaked at 745 vs 861 MiB, wresnet inference (batch 256) at 1,100 vs 1,236
// MiB (one run each).
const (
	gcMinPercent = 10
	gcMinSlack   = 64 << 20
)

// gcPercentFor is the GOGC that gives a live heap of live bytes a growth
// allowance of max(gcMinPercent%, gcMinSlack), capped at Go's default 100.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return 100
	}
	p := int(uint64(gcMinSlack) * 100 / live)
	return min(max(p, gcMinPercent), 100)
}

// TuneGC paces the collector for a tensor workload: after every
// collection it sets GOGC so that the heap may grow by 10% of the live
// bytes that collection found, but by no less than 64 MiB and no more
// than Go's default (100%). It does nothing and returns a no-op when the
// environment sets GOGC, which is the user's choice. stop ends the tuning
// and restores the percent there was before.
func TuneGC() (stop func()) {
	if _, set := lookupEnv("GOGC"); set {
		return func() {}
	}
	return tuneGC(nil)
}

// tuneGC is TuneGC without the environment check; after, when not nil,
// runs after each update (tests). It re-sets GOGC from a finalizer that
// re-arms itself, the runtime's way to run code once per cycle.
func tuneGC(after func(percent int)) (stop func()) {
	var mu sync.Mutex
	stopped := false
	before := debug.SetGCPercent(100)
	current := 100
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var arm func()
	arm = func() {
		// 16 bytes or more: the tiny allocator's objects may never be finalized.
		s := new([2]*int)
		runtime.SetFinalizer(s, func(*[2]*int) {
			mu.Lock()
			if stopped {
				mu.Unlock()
				return
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				if p := gcPercentFor(sample[0].Value.Uint64()); p != current {
					debug.SetGCPercent(p)
					current = p
				}
			}
			p := current
			mu.Unlock()
			if after != nil {
				after(p)
			}
			arm()
		})
	}
	arm()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		debug.SetGCPercent(before)
	}
}
