package data

import "fmt"

// FormatError reports a file that cannot be read: which file, and what is
// wrong with it. Err, when set, is the underlying error (a decoder's or the
// operating system's).
type FormatError struct {
	File    string
	Problem string
	Err     error
}

// Error names the file and the problem.
func (e *FormatError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("data: %s: %s: %v", e.File, e.Problem, e.Err)
	}
	return fmt.Sprintf("data: %s: %s", e.File, e.Problem)
}

// Unwrap returns the underlying error, if any.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(file, format string, args ...any) error {
	return &FormatError{File: file, Problem: fmt.Sprintf(format, args...)}
}

func wrapErr(file, problem string, err error) error {
	return &FormatError{File: file, Problem: problem, Err: err}
}
