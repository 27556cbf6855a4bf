package main

import (
	"fmt"
	"io"
)

// runData runs the dataset subcommands. TEMPORARY stub until the data package lands.
func runData(args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("data: not yet implemented")
}
