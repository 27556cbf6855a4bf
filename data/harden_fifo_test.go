//go:build linux || darwin || freebsd || netbsd || openbsd

package data

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Item 12: a FIFO (or a device) given as a data path hung forever: opening
// a FIFO for reading blocks until a writer comes. Every reader that opens a
// path refuses anything but a regular file, naming it, without opening it.
func TestHardenNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "train-images-idx3-ubyte.gz")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// A folder dataset whose selected member is a FIFO.
	batches := filepath.Join(dir, "cifar-10-batches-bin")
	os.MkdirAll(batches, 0o755)
	os.WriteFile(filepath.Join(batches, "data_batch_1.bin"), cifarRecords(1, false), 0o644)
	member := filepath.Join(batches, "data_batch_2.bin")
	if err := syscall.Mkfifo(member, 0o600); err != nil {
		t.Fatal(err)
	}
	paths := []string{fifo}
	if st, err := os.Stat("/dev/null"); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		paths = append(paths, "/dev/null")
	}
	for _, p := range paths {
		readers := map[string]func() error{
			"ReadIDXFile":      func() error { _, err := ReadIDXFile(p); return err },
			"ReadNPYFile":      func() error { _, err := ReadNPYFile(p); return err },
			"OpenNPZ":          func() error { _, err := OpenNPZ(p); return err },
			"WalkArchive":      func() error { return WalkArchive(p, nil, func(string, []byte) error { return nil }) },
			"ReadCIFARFile":    func() error { _, err := ReadCIFARFile(p, false, nil); return err },
			"ReadCIFARArchive": func() error { _, err := ReadCIFARArchive(p, false, Train); return err },
			"ReadOmniglotNPZ":  func() error { _, _, _, err := ReadOmniglotNPZ(p, 0); return err },
		}
		for name, read := range readers {
			wantFormatErr(t, within(t, name+"("+p+")", read), p, "not a regular file")
		}
	}
	err := within(t, "ReadCIFARArchive(folder with a FIFO)", func() error { _, err := ReadCIFARArchive(batches, false, Train); return err })
	wantFormatErr(t, err, member, "not a regular file (a named pipe (FIFO))")
}

// within runs read and fails the test if it has not returned after a few
// seconds (a reader that blocks on a FIFO would hang the test binary).
func within(t *testing.T, what string, read func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked", what)
		return nil
	}
}
