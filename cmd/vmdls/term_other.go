//go:build !unix

package main

import "os"

// isTTY falls back to the character-device test where there is no
// terminal ioctl.
func isTTY(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// termWidth is 0 (unknown) where there is no terminal ioctl: the live line
// is then not cut.
func termWidth(f *os.File) int { return 0 }
