package data

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedDataDir returns the directory of the real datasets: $VMDLS_DATA, or
// ../shared/data beside the module root. It skips the test when the
// needed sub-folder is absent.
func sharedDataDir(t testing.TB, sub string) string {
	t.Helper()
	if raceEnabled {
		t.Skip("real-data test skipped under -race (covered by the plain run; the loader is raced on synthetic data)")
	}
	dir := os.Getenv("VMDLS_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
		t.Skipf("real dataset %s not found under %s (set VMDLS_DATA to the folder holding mnist/, omniglot/, cifar10-jpeg/)", sub, dir)
	}
	return dir
}
