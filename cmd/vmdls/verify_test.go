package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataVerifyBadImage: `vmdls data verify` decodes every image of a
// folder dataset; a bad one is exit status 2 with a message naming it.
func TestDataVerifyBadImage(t *testing.T) {
	dir := t.TempDir()
	class := filepath.Join(dir, "openset", "LSUN", "test")
	if err := os.MkdirAll(class, 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1.png", "2.png"} {
		os.WriteFile(filepath.Join(class, n), b.Bytes(), 0o644)
	}
	var out, errb bytes.Buffer
	if err := run([]string{"data", "verify", "lsun-crop", "--data_dir", dir}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "lsun-crop test: 2 images decoded") || !strings.Contains(out.String(), "lsun-crop: OK") {
		t.Fatalf("output:\n%s", out.String())
	}
	// A PNG cut after its header passes a header check but not a decode.
	os.WriteFile(filepath.Join(class, "3.png"), b.Bytes()[:len(b.Bytes())-20], 0o644)
	out.Reset()
	err := run([]string{"data", "verify", "--data_dir", dir, "lsun-crop"}, &out, &errb)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "test/3.png") {
		t.Fatalf("bad image: %v (exit %d)", err, exitCode(err))
	}
	if err := run([]string{"data", "verify", "--data_dir", dir}, &out, &errb); err == nil || exitCode(err) != 2 {
		t.Fatalf("verify without a name: %v", err)
	}
	// A missing dataset names its file.
	if err := run([]string{"data", "verify", "kmnist", "--data_dir", dir}, &out, &errb); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "train-images-idx3-ubyte.gz") {
		t.Fatalf("missing dataset: %v", err)
	}
}
