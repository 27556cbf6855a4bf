package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCommitAndAbort: the old contents stay until Commit; Abort leaves
// them and no temporary file.
func TestCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.csv")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new")
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("before Commit: %q, want the old contents", b)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort() // after Commit: nothing
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("after Commit: %q", b)
	}
	g, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	g.WriteString("half")
	g.Abort()
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("after Abort: %q, want the committed contents", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files left: %v", ents)
	}
	if err := g.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if _, err := Create(filepath.Join(dir, "missing", "x")); err == nil {
		t.Error("Create in a missing folder succeeded")
	}
}
