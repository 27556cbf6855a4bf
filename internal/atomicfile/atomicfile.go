// Package atomicfile writes a file that readers see whole or not at all:
// the bytes go to a temporary file beside the target, which Commit syncs
// and renames over it. A writer that fails or is killed leaves the old
// file (or none) and, at worst, a hidden temporary file.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// File is a file being written; its bytes reach its path at Commit.
type File struct {
	*os.File
	path string
	done bool
}

// Create starts writing path.
func Create(path string) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &File{File: f, path: path}, nil
}

// Commit makes the bytes written the file at path: synced, given mode
// 0644 and renamed over it. After Commit, Abort does nothing.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("atomicfile: %s already committed or aborted", f.path)
	}
	err := f.Chmod(0o644)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	f.done = true
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	// The rename is durable once the folder is synced; not every file
	// system allows that, and the data is safe already: best effort.
	if d, derr := os.Open(filepath.Dir(f.path)); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort drops what was written, leaving path as it was; it is safe to
// defer after Create whatever happens next.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}
