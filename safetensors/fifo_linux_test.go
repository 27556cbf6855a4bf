//go:build linux

package safetensors

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A FIFO given as a checkpoint path used to block the open forever,
// waiting for a writer; it must be refused at once, naming the path.
func TestFIFORefusedWithoutBlocking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for name, read := range map[string]func() error{
		"ReadFile":   func() error { _, err := ReadFile(path); return err },
		"ReadHeader": func() error { _, err := ReadHeader(path); return err },
	} {
		done := make(chan error, 1)
		go func() { done <- read() }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "FIFO") {
				t.Errorf("%s: error %v should name %s and say it is a FIFO", name, err, path)
			}
		case <-time.After(10 * time.Second):
			// Unblock the reader so that the test binary can exit.
			if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
				w.Close()
			}
			t.Fatalf("%s of a FIFO still blocked after 10 s", name)
		}
	}
}

func TestDeviceRefused(t *testing.T) {
	if _, err := ReadFile("/dev/null"); err == nil || !strings.Contains(err.Error(), "/dev/null") || !strings.Contains(err.Error(), "character device") {
		t.Errorf("/dev/null: %v", err)
	}
}
