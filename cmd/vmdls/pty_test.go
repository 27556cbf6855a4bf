//go:build linux

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal of cols columns (posix_openpt by hand:
// /dev/ptmx, unlock, the slave's number) and returns its master and slave.
func openPTY(t *testing.T, cols int) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open the slave: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: uint16(cols)}); err != nil {
		t.Fatal(err)
	}
	return m, s
}

// runInPTY runs bin in dir with stdout and stderr on a terminal of cols
// columns and returns its exit status and what the terminal received.
func runInPTY(t *testing.T, bin, dir string, cols int, args ...string) (int, string) {
	t.Helper()
	m, s := openPTY(t, cols)
	defer m.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.Env = append(os.Environ(), "TERM=xterm")
	var out bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(&out, m) // ends with EIO once the slave is closed
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	err := cmd.Wait()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal's output did not end")
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String()
}

// screenRows splits terminal output into what each redraw left: rows at
// newlines, segments at carriage returns, without the erase sequence.
func screenRows(out string) [][]string {
	var rows [][]string
	for _, r := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
		rows = append(rows, strings.Split(strings.ReplaceAll(r, "\033[K", ""), "\r"))
	}
	return rows
}

// TestProgressInTerminal trains and tests through the binary on a terminal
// of 80 columns: no drawn line is as wide as the terminal (which would
// wrap), the validation shows its total, the resumed run says so, and the
// results table starts on a line of its own.
func TestProgressInTerminal(t *testing.T) {
	bin := builtBinary(t)
	data, err := filepath.Abs(sharedData(t, "mnist"))
	if err != nil {
		t.Fatal(err)
	}
	sharedData(t, "omniglot")
	work := t.TempDir()
	common := []string{"--data_dir", data, "--train_limit", "400", "--test_limit", "100", "--unknown_limit", "100",
		"--latent_dim", "8", "--batch_classes", "10", "--sample_count", "8", "--generation_epoch", "0", "--data_transforms", "blob"}
	const cols = 80
	checkWidth := func(what, out string) {
		t.Helper()
		for _, row := range screenRows(out) {
			for _, seg := range row {
				if len(seg) >= cols && !strings.HasPrefix(seg, "  ") && !strings.HasPrefix(seg, "vmdls:") {
					t.Errorf("%s: a drawn line of %d columns on a terminal of %d: %q", what, len(seg), cols, seg)
				}
			}
		}
	}
	code, out := runInPTY(t, bin, work, cols, append([]string{"train", "--max_epochs", "2", "--output_dir", "run"}, common...)...)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s", code, out)
	}
	checkWidth("train", out)
	if !regexp.MustCompile(`validate epoch 2 images \d+/200 `).MatchString(out) {
		t.Errorf("validate shows no total:\n%q", out)
	}
	// The run's config.json replays it: the same settings as a dry run of
	// its command line.
	conf := filepath.Join(work, "run", "config.json")
	code, replay, errOut := runBinary(t, bin, work, "train", "--dry_run", "--config", conf)
	_, direct, _ := runBinary(t, bin, work, append([]string{"train", "--dry_run", "--max_epochs", "2", "--output_dir", "run"}, common...)...)
	if code != 0 || replay != direct {
		t.Errorf("--config run/config.json: exit %d\n got %s\nwant %s\n%s", code, replay, direct, errOut)
	}
	ck := filepath.Join("run", "checkpoints", "last.safetensors")
	code, out = runInPTY(t, bin, work, cols, append([]string{"train", "--max_epochs", "3", "--output_dir", "run", "--resume", ck}, common...)...)
	if code != 0 || !strings.Contains(out, "resuming from epoch 3 of "+ck) {
		t.Errorf("resume: exit %d, no resume line:\n%s", code, out)
	}
	checkWidth("resumed train", out)
	code, out = runInPTY(t, bin, work, cols, append([]string{"test", "--checkpoint_path", ck, "--output_dir", "eval"}, common...)...)
	if code != 0 {
		t.Fatalf("test: exit %d\n%s", code, out)
	}
	checkWidth("test", out)
	table := false
	for _, row := range screenRows(out) {
		if strings.Contains(strings.Join(row, ""), "metric ") {
			table = true
			if len(row) != 1 || !strings.HasPrefix(row[0], "metric ") {
				t.Errorf("the results table does not start on a fresh line: %q", row)
			}
		}
	}
	if !table {
		t.Errorf("no results table:\n%s", out)
	}
}
