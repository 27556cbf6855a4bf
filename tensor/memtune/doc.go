// Package memtune sets the Go runtime's memory management up for a process
// whose heap is mostly tensor storage: large pointer-free float32 buffers
// that a training step allocates and drops by the gigabyte. Two defaults of
// the runtime cost such a process speed or memory:
//
//   - The collector's default pacing (GOGC=100) lets the heap grow to twice
//     the live data before a cycle: DenseNet's training step peaked at 7.9 GB
//     instead of 4.6. TuneGC keeps the growth allowance at 10% of the live
//     heap but never below 64 MiB, re-set after every cycle.
//   - On Linux the runtime returns freed pages with MADV_DONTNEED, so the
//     next step's forward pass faults the same pages in again, 4 KiB at a
//     time. GODEBUG=madvdontneed=0 makes it use MADV_FREE, which costs no
//     fault when a page is written again before the kernel reclaims it. The
//     setting is read only when a process starts: RestartWithLazyFree
//     starts the process again with it.
//
// Apply does both, as the vmdls command does; a program that embeds the
// engine calls it first thing in main. Both respect the user's choice: an
// explicit GOGC, or a GODEBUG that names madvdontneed, is left alone.
package memtune
