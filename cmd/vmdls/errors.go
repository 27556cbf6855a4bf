package main

import (
	"errors"
	"fmt"
)

// Exit statuses: what main returns for each kind of failure.

// exitError carries the process exit status an error should end with:
// 2 for bad command lines (before any work), 1 for failures during the
// work, 130 for an interrupted run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a command-line mistake: exit status 2, before any work.
func usageErrorf(format string, args ...any) error {
	return &exitError{2, fmt.Errorf(format, args...)}
}

// exitCode is the status main exits with for err. Errors without a code
// are usage errors, as they were before subcommands had run-time failures.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 2
}
