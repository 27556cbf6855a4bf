package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestServeFlags: bad flags and files exit 2 naming the flag.
func TestServeFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "--detector"},
		{[]string{"serve", "--detector", "x", "extra"}, "extra"},
		{[]string{"serve", "--detector", "x", "--max_batch", "0"}, "--max_batch"},
		{[]string{"serve", "--detector", "x", "--log_format", "xml"}, "--log_format"},
		{[]string{"serve", "--detector", "x", "--timeout", "0s"}, "--timeout"},
		{[]string{"serve", "--detector", "/nonexistent/det.safetensors"}, "--detector"},
	} {
		err := run(c.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want exit 2 naming %q", c.args, err, exitCode(err), c.want)
		}
	}
}
