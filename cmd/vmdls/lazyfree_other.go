//go:build !linux

package main

// startWithLazyFree does nothing where the runtime does not return pages
// with MADV_DONTNEED by default.
func startWithLazyFree() {}
