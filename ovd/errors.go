package ovd

import (
	"errors"
	"fmt"

	"github.com/vmdls-go/vmdls/data"
)

// InputError is a failure caused by what the caller handed in (a flag, a
// file, or a combination of them) rather than by the work itself: a
// checkpoint of another network, weights that are not finite, a dataset
// file that cannot be read. The command line exits with status 2 for
// these, as for a bad flag, so that scripts can tell "fix your input" from
// "the run failed".
type InputError struct {
	Err error
}

// Error returns the underlying message, which names the flag or file.
func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *InputError) Unwrap() error { return e.Err }

// IsInputError reports whether err was caused by the input: an
// *InputError or a data.FormatError (a file that cannot be read) anywhere
// in its chain.
func IsInputError(err error) bool {
	var ie *InputError
	var fe *data.FormatError
	return errors.As(err, &ie) || errors.As(err, &fe)
}

// inputErrorf formats an InputError; %w wraps as in fmt.Errorf.
func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}
