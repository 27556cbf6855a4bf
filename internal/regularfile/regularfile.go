// Package regularfile opens files that must be regular files: the data,
// checkpoint and PyTorch files the readers above it take from users. It
// imports only the standard library, so every reader can use it.
package regularfile

import (
	"fmt"
	"io/fs"
	"os"
)

// Error reports a path that is not a regular file, or that was replaced by
// something else while being opened.
type Error struct {
	Path string
	// Mode is the type found: at the first stat, or after the open when
	// Replaced is set.
	Mode     fs.FileMode
	Replaced bool
}

// Problem says what is wrong, without the path: "not a regular file (a
// named pipe (FIFO))" or "replaced while being opened (now a directory)".
func (e *Error) Problem() string {
	if e.Replaced {
		return fmt.Sprintf("replaced while being opened (now %s)", Kind(e.Mode))
	}
	return fmt.Sprintf("not a regular file (%s)", Kind(e.Mode))
}

// Error names the path and the problem.
func (e *Error) Error() string { return e.Path + ": " + e.Problem() }

// Open opens path for reading if it is a regular file, returning it with
// its stat. The path is stat'ed before it is opened because opening a FIFO
// for reading blocks until a writer appears (forever, for a path nobody
// writes to) and opening a device can have side effects; it is opened with
// O_NONBLOCK where the platform has it and stat'ed again, so that a path
// swapped for a FIFO in between cannot block either. Errors of the file
// system come back as they are; the others are *Error.
func Open(path string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, &Error{Path: path, Mode: st.Mode()}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	again, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !again.Mode().IsRegular() || !os.SameFile(st, again) {
		f.Close()
		return nil, nil, &Error{Path: path, Mode: again.Mode(), Replaced: true}
	}
	return f, again, nil
}

// Check reports, as Open would, whether path is a regular file, without
// opening it.
func Check(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return &Error{Path: path, Mode: st.Mode()}
	}
	return nil
}

// Kind describes a file mode's type for an error message.
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "mode " + m.String()
}
