package main

import "strings"

// Training allocates and drops gigabytes of activations every step. With
// Go's default on Linux (GODEBUG=madvdontneed=1) the scavenger hands the
// freed pages above its small retention goal back to the kernel with
// MADV_DONTNEED, and the next step's forward pass faults them in again,
// 4 KiB at a time. With
// madvdontneed=0 the runtime uses MADV_FREE: the kernel takes the pages
// back only when it needs memory, and a page written again before that
// costs no fault. Measured on wresnet's training step (`vmdls bench
// train-step --enc_type wresnet --batch_size 128 --threads 2 --steps 2
// --warmup 1 --clean 0`, 2-core Zen 5): 4.91 images/s, 2.0 million page
// faults and 20.7 s of system time with the default; 5.53 images/s, 0.96
// million faults and 12.5 s with MADV_FREE; peak RSS 3,730 and 3,748 MiB.
// (Holding the heap goal at its recent peak instead, so that the scavenger
// keeps the pages, ran at 5.25 images/s but peaked at 4,387 MiB.) The
// setting is read only at process start, so main starts the process again
// with it (lazyfree_linux.go); the cost is that freed memory stays in RSS
// until the kernel reclaims it.

// lazyFreeGODEBUG returns the GODEBUG value that selects MADV_FREE, given
// the current value, and whether it differs: a value that already says
// madvdontneed, either way, is the user's choice and is kept.
func lazyFreeGODEBUG(cur string) (string, bool) {
	for _, kv := range strings.Split(cur, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "madvdontneed=") {
			return cur, false
		}
	}
	if cur == "" {
		return "madvdontneed=0", true
	}
	return cur + ",madvdontneed=0", true
}

// pagesReturnedLazily reports whether a process started with GODEBUG value
// v returns freed pages with MADV_FREE: the last madvdontneed setting wins,
// as in the runtime's parsing, and the default is MADV_DONTNEED.
func pagesReturnedLazily(v string) bool {
	lazy := false
	for _, kv := range strings.Split(v, ",") {
		if val, ok := strings.CutPrefix(strings.TrimSpace(kv), "madvdontneed="); ok {
			lazy = val == "0"
		}
	}
	return lazy
}
