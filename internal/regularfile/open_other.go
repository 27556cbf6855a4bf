//go:build !unix

package regularfile

// openFlags is zero where open has no O_NONBLOCK; the stat before opening
// still refuses FIFOs and devices.
const openFlags = 0
