//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/ovd"
)

// TestFIFOPathsRefused checks that a FIFO given as a checkpoint, weights or
// autoencoder path is refused at once: opening one for reading blocks
// until a writer comes.
func TestFIFOPathsRefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "ckpt.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, args := range [][]string{
		append([]string{"test", "--checkpoint_path", fifo}, mnistArgs...),
		append([]string{"train", "--weights", fifo}, mnistArgs...),
		append([]string{"train", "--checkpoint_path", fifo}, mnistArgs...),
		append([]string{"train", "--resume", fifo}, mnistArgs...),
	} {
		done := make(chan error, 1)
		go func() { done <- run(args, &bytes.Buffer{}, &bytes.Buffer{}) }()
		select {
		case err := <-done:
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), fifo) {
				t.Errorf("%v: got %v (exit %d), want exit 2 naming the FIFO as not a regular file", args[:3], err, exitCode(err))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: still blocked after 10 s", args[:3])
		}
	}
}

// TestBadInputExitsTwoAndCleansUp checks that a run failing on a bad file
// (ovd.InputError, data.FormatError) exits with status 2 as a bad flag
// does, other failures with 1, and that a run which wrote nothing removes
// the output folder it created, but never a folder that was there before.
func TestBadInputExitsTwoAndCleansUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"input", &ovd.InputError{Err: fmt.Errorf("--checkpoint_path x: the weights are not finite")}, 2},
		{"data", fmt.Errorf("epoch 3: %w", &data.FormatError{File: "img.png", Problem: "corrupt"}), 2},
		{"work", fmt.Errorf("disk full"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withFakes(t, func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
				// As ovd.Train leaves a run that failed in its first epoch.
				os.MkdirAll(filepath.Join(cfg.OutputDir, "checkpoints"), 0o755)
				return "", tc.err
			}, nil, nil)
			fresh := filepath.Join(t.TempDir(), "new-run")
			var out bytes.Buffer
			err := run(append([]string{"train", "--output_dir", fresh}, mnistArgs...), &out, &bytes.Buffer{})
			if exitCode(err) != tc.code {
				t.Errorf("exit status %d (%v), want %d", exitCode(err), err, tc.code)
			}
			if _, serr := os.Stat(fresh); !os.IsNotExist(serr) {
				t.Errorf("the failed run left its new output folder behind (%v)", serr)
			}
			if !strings.Contains(out.String(), "removed") {
				t.Errorf("stdout does not say the folder was removed:\n%s", out.String())
			}
			existing := t.TempDir()
			run(append([]string{"train", "--output_dir", existing}, mnistArgs...), &bytes.Buffer{}, &bytes.Buffer{})
			if _, serr := os.Stat(existing); serr != nil {
				t.Errorf("a folder that existed before the run was removed: %v", serr)
			}
		})
	}
}

// TestMetricsTornLineCut checks that a metrics.jsonl whose last record was
// cut by kill -9 is repaired when the next run opens it: the partial line
// goes, the complete ones stay, the new records start on their own lines.
func TestMetricsTornLineCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	whole := `{"phase":"train","step":1}` + "\n" + `{"phase":"train","step":2}` + "\n"
	for _, tail := range []string{"", `{"phase":"tr`, strings.Repeat("x", 9000)} {
		if err := os.WriteFile(path, []byte(whole+tail), 0o644); err != nil {
			t.Fatal(err)
		}
		p := newProgress(&bytes.Buffer{}, false)
		if err := p.openMetrics(path); err != nil {
			t.Fatal(err)
		}
		p.observe(ovd.Event{Phase: "train", Step: 3})
		if err := p.close(); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if !strings.HasPrefix(string(b), whole) || len(lines) != 3 || !strings.Contains(lines[2], `"step":3`) {
			t.Errorf("tail %.12q: file after the next run:\n%s", tail, b)
		}
	}
	// A file holding only a torn record is emptied.
	os.WriteFile(path, []byte(`{"phase":`), 0o644)
	p := newProgress(&bytes.Buffer{}, false)
	if err := p.openMetrics(path); err != nil {
		t.Fatal(err)
	}
	p.close()
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("a lone torn record was kept: %q", b)
	}
}

// TestMetricsWholeLines checks that every record is in metrics.jsonl, whole,
// as soon as observe returns: a kill -9 at any moment leaves only complete
// lines (a 4 KiB buffer used to flush in the middle of a record and hold
// the rest until the next flush).
func TestMetricsWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	p := newProgress(&bytes.Buffer{}, false)
	if err := p.openMetrics(path); err != nil {
		t.Fatal(err)
	}
	defer p.close()
	for i := 1; i <= 300; i++ {
		p.observe(ovd.Event{Phase: "train", Epoch: 1, Epochs: 1, Step: i, Steps: 300,
			Values: map[string]float64{"loss": float64(i) / 7, "triplet": 1.0 / float64(i), "kl": float64(i)}})
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || b[len(b)-1] != '\n' || bytes.Count(b, []byte("\n")) != i {
			t.Fatalf("after record %d the file holds %d bytes, %d newlines, ending %q", i, len(b), bytes.Count(b, []byte("\n")), b[max(0, len(b)-20):])
		}
	}
}
