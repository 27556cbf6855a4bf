//go:build unix

package regularfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpenRefusesWithoutBlocking: a FIFO and a directory are refused by
// Open and Check with an *Error naming the path and the kind, at once; a
// regular file opens with its size; a missing one gives the file system's
// error; and the open flags themselves do not block on a FIFO (they guard
// a path swapped for one between the stat and the open).
func TestOpenRefusesWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	reg := filepath.Join(dir, "file")
	os.WriteFile(reg, []byte("12345"), 0o644)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for path, kind := range map[string]string{fifo: "FIFO", dir: "directory"} {
			for name, err := range map[string]error{"Open": func() error { _, _, err := Open(path); return err }(), "Check": Check(path)} {
				var re *Error
				if !errors.As(err, &re) || re.Replaced || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), kind) {
					t.Errorf("%s(%s): %v, want an *Error naming the path and %q", name, path, err, kind)
				}
			}
		}
		f, err := os.OpenFile(fifo, os.O_RDONLY|openFlags, 0)
		if err != nil {
			t.Errorf("open with openFlags: %v", err)
		} else {
			f.Close()
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("blocked on the FIFO")
	}
	f, st, err := Open(reg)
	if err != nil || st.Size() != 5 {
		t.Fatalf("regular file: %v, size %v", err, st)
	}
	f.Close()
	if _, _, err := Open(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
}
