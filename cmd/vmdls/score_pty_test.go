//go:build linux

package main

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestScoreProgressOnTerminal: with stderr on a terminal, score draws its
// progress line (images done of the total, then "done in"); the CSV goes
// to --out untouched by it. scoreRows checks that nothing is drawn when
// stderr is not a terminal.
func TestScoreProgressOnTerminal(t *testing.T) {
	fx := toyDetector(t)
	m, s := openPTY(t, 100)
	defer m.Close()
	got := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		io.Copy(&b, m) // ends with EIO once the slave is closed
		got <- b.String()
	}()
	out := filepath.Join(t.TempDir(), "s.csv")
	err := run([]string{"score", "--detector", fx.detPath, "--data_dir", fx.dataDir, "--batch", "16", "--out", out, "mnist:test"}, &bytes.Buffer{}, s)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	term := <-got
	if !strings.Contains(term, "images 60/60") || !strings.Contains(term, "done in") || !strings.Contains(term, "\r\033[K") {
		t.Errorf("the terminal got %q, want a live line ending with images 60/60 ... done in", term)
	}
	rows := strings.Count(readFile(t, out), "\n")
	if rows != 61 {
		t.Errorf("--out has %d lines, want 61", rows)
	}
}
