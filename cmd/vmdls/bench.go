package main

import (
	"fmt"
	"io"
)

// runBench runs a micro-benchmark named by args[0]. TEMPORARY stub.
func runBench(args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("bench: not yet implemented")
}
