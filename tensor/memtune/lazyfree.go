package memtune

import (
	"os"
	"strings"
)

// lookupEnv is os.LookupEnv; a variable so tests can give an environment.
var lookupEnv = os.LookupEnv

// Measured on wresnet's training step (`vmdls bench train-step --enc_type
// wresnet --batch_size 128 --threads 2 --steps 2 --warmup 1 --clean 0`,
// 2-core Zen 5): 4.91 images/s, 2.0 million page faults and 20.7 s of
// system time with the default MADV_DONTNEED; 5.53 images/s, 0.96 million
// faults and 12.5 s with MADV_FREE; peak RSS 3,730 and 3,748 MiB. (Holding
// the heap goal at its recent peak instead, so that the scavenger keeps the
// pages, ran at 5.25 images/s but peaked at 4,387 MiB.) The price is that
// freed memory stays in RSS until the kernel reclaims it.

// RestartWithLazyFree makes the runtime return freed pages lazily
// (MADV_FREE) by starting the process again, in place, with
// GODEBUG=madvdontneed=0 added to its environment. Call it first in main:
// on success it does not return, and whatever ran before it runs again. It
// returns at once where the environment's GODEBUG already names
// madvdontneed (either way: the user's choice), where the runtime does not
// return pages with MADV_DONTNEED by default (not Linux), and when the exec
// fails; the process then goes on with the runtime's default.
func RestartWithLazyFree() {
	cur, _ := lookupEnv("GODEBUG")
	v, change := lazyFreeGODEBUG(cur)
	if !change {
		return
	}
	env := []string{"GODEBUG=" + v}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	restart(env)
}

// PagesReturnedLazily reports whether this process returns freed pages
// with MADV_FREE: on Linux, whether it was started with madvdontneed=0 in
// GODEBUG (the last madvdontneed setting wins, as in the runtime's
// parsing). Elsewhere it is false: the question is Linux's.
func PagesReturnedLazily() bool {
	v, _ := lookupEnv("GODEBUG")
	return restartable && pagesReturnedLazily(v)
}

// lazyFreeGODEBUG returns the GODEBUG value that selects MADV_FREE, given
// the current value, and whether it differs: a value that already says
// madvdontneed, either way, is kept.
func lazyFreeGODEBUG(cur string) (string, bool) {
	if !restartable {
		return cur, false
	}
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

// pagesReturnedLazily reports whether GODEBUG value v selects MADV_FREE.
func pagesReturnedLazily(v string) bool {
	lazy := false
	for _, kv := range strings.Split(v, ",") {
		if val, ok := strings.CutPrefix(strings.TrimSpace(kv), "madvdontneed="); ok {
			lazy = val == "0"
		}
	}
	return lazy
}

// Apply is RestartWithLazyFree followed by TuneGC for the life of the
// process: what the vmdls command does first. Call it first in main.
func Apply() {
	RestartWithLazyFree()
	TuneGC()
}
