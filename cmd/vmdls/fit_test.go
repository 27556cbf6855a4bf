package main

import (
	"bytes"
	"context"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/ovd"
)

// TestFitCommand: vmdls fit with the fixture's model and settings writes
// the detector FitDetector makes (the same scores, bit for bit), the
// command that made it in its header, the architecture read from the
// checkpoint; --threshold_from best_f1 is recorded as such; bad flags exit
// 2 naming the flag, and nothing is written.
func TestFitCommand(t *testing.T) {
	fx := toyDetector(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "det.safetensors")
	base := []string{"fit", "--data_dir", fx.dataDir, "--checkpoint_path", fx.ckpt, "--known_dataset", "mnist",
		"--unknown_dataset", "noise", "--batch_size", "100"}
	var so, se bytes.Buffer
	if err := run(append(base, "--out", out), &so, &se); err != nil {
		t.Fatalf("fit: %v\n%s", err, se.String())
	}
	if !strings.Contains(so.String(), "detector: "+out) || !strings.Contains(so.String(), "known_tpr") {
		t.Errorf("fit printed %q", so.String())
	}
	det, err := ovd.LoadDetector(out)
	if err != nil {
		t.Fatal(err)
	}
	if cmd := det.Info().Command; !strings.HasPrefix(cmd, "vmdls fit ") || !strings.Contains(cmd, "--out "+out) {
		t.Errorf("recorded command %q", cmd)
	}
	if v := det.Info().Version; v != versionString() {
		t.Errorf("recorded version %q, want the binary's %q", v, versionString())
	}
	if det.Threshold() != fx.det.Threshold() || det.FeatureSet() != fx.det.FeatureSet() {
		t.Errorf("threshold %+v, the library's %+v", det.Threshold(), fx.det.Threshold())
	}
	set := openToyTest(t, fx)
	in := make([]image.Image, 0, 8)
	for i := range 8 {
		im, err := set.Image(i)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, goImage(im))
	}
	got, err := det.ScoreImages(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := fx.det.ScoreImages(context.Background(), in)
	for i := range got {
		if got[i].Score != want[i].Score || got[i].Class != want[i].Class {
			t.Errorf("image %d: fit's detector %v, the library's %v", i, got[i], want[i])
		}
	}

	f1 := filepath.Join(dir, "f1.safetensors")
	if err := run(append(base, "--out", f1, "--threshold_from", "best_f1", "--unknown_limit", "60"), &so, &se); err != nil {
		t.Fatalf("fit best_f1: %v", err)
	}
	if d, err := ovd.LoadDetector(f1); err != nil || d.Threshold().Method != ovd.ThresholdBestF1 || !strings.Contains(d.Threshold().Note, "not for deployment") {
		t.Errorf("best_f1 detector: %v %+v", err, d)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fit", "--out", out}, "--checkpoint_path"},
		{base, "--out"},
		{append(base, "--out", dir), "directory"},
		{append(base, "--out", filepath.Join(dir, "no", "x")), "does not exist"},
		{append(base, "--out", filepath.Join(dir, "x"), "--threshold_from", "magic"), "--threshold_from"},
		{append(base, "--out", filepath.Join(dir, "x"), "--target_tpr", "1.5"), "--target_tpr"},
		{append(base, "--out", filepath.Join(dir, "x"), "--holdout", "val"), "--holdout"},
		{append(base, "--out", filepath.Join(dir, "x"), "--holdout_fraction", "1"), "--holdout_fraction"},
	} {
		err := run(c.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want exit 2 naming %q", c.args[len(c.args)-2:], err, exitCode(err), c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a refused fit wrote its --out")
	}
}
