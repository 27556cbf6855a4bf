package torchfile

import (
	"errors"
	"fmt"
	"os"

	"github.com/vmdls-go/vmdls/internal/regularfile"
)

// openRegular opens path for reading if it is a regular file (see
// regularfile.Open: a FIFO or a device is refused before it can block),
// returning it with its size.
func openRegular(path string) (*os.File, int64, error) {
	fh, st, err := regularfile.Open(path)
	var re *regularfile.Error
	switch {
	case errors.As(err, &re) && !re.Replaced:
		return nil, 0, fmt.Errorf("torchfile: %s: %s; want a PyTorch checkpoint", path, re.Problem())
	case errors.As(err, &re):
		return nil, 0, fmt.Errorf("torchfile: %s: %s", path, re.Problem())
	case err != nil:
		return nil, 0, fmt.Errorf("torchfile: %w", err)
	}
	return fh, st.Size(), nil
}
