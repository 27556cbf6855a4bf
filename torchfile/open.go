package torchfile

import (
	"fmt"
	"io/fs"
	"os"
)

// openRegular opens path for reading if it is a regular file, returning it
// with its size. It is stat'ed before it is opened because opening a FIFO
// blocks until a writer appears and opening a device can have side
// effects; it is opened with O_NONBLOCK where the platform has it and
// stat'ed again, so that a path swapped for a FIFO in between cannot block
// either.
func openRegular(path string) (*os.File, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("torchfile: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("torchfile: %s: not a regular file (%s); want a PyTorch checkpoint", path, kind(st.Mode()))
	}
	fh, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("torchfile: %w", err)
	}
	again, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, 0, fmt.Errorf("torchfile: %w", err)
	}
	if !again.Mode().IsRegular() || !os.SameFile(st, again) {
		fh.Close()
		return nil, 0, fmt.Errorf("torchfile: %s: replaced while being opened (now %s)", path, kind(again.Mode()))
	}
	return fh, again.Size(), nil
}

// kind describes a file mode's type for an error message.
func kind(m fs.FileMode) string {
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
	}
	return "mode " + m.String()
}
