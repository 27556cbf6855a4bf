package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sharedData(t *testing.T, sub string) string {
	dir := os.Getenv("VMDLS_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
		t.Skipf("real dataset %s not found under %s (set VMDLS_DATA)", sub, dir)
	}
	return dir
}

func TestDataInfoMNIST(t *testing.T) {
	dir := sharedData(t, "mnist")
	var out, errb bytes.Buffer
	if err := run([]string{"data", "info", "--dataset", "mnist", "--data_dir", dir}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	for _, s := range []string{"mnist train: 60000 images, 1x28x28", "mnist test: 10000 images", "class 1: 6742", "class 1: 1135"} {
		if !strings.Contains(out.String(), s) {
			t.Fatalf("output lacks %q:\n%s", s, out.String())
		}
	}
	out.Reset()
	if err := run([]string{"data", "verify", "mnist", "--data_dir", dir}, &out, &errb); err != nil {
		t.Fatal(err)
	}
}

func TestDataErrors(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	err := run([]string{"data", "info", "--dataset", "kmnist", "--data_dir", dir}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "codh.rois.ac.jp") || !strings.Contains(err.Error(), filepath.Join(dir, "kmnist")) {
		t.Fatalf("missing dataset: %v", err)
	}
	if err := run([]string{"data", "info", "--dataset", "nope", "--data_dir", dir}, &out, &errb); err == nil {
		t.Fatal("unknown dataset accepted")
	}
	if err := run([]string{"data", "fetch", "--data_dir", dir}, &out, &errb); err == nil {
		t.Fatal("fetch without a name accepted")
	}
	if err := run([]string{"data", "frob"}, &out, &errb); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
}
