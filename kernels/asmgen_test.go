package kernels

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSgemmAsmIsGenerated regenerates the SGEMM micro-kernels into a
// temporary file and checks that the committed sgemm_kernels_amd64.s is
// exactly what sgemm_asmgen.go writes, so that neither is edited alone.
func TestSgemmAsmIsGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Go toolchain")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out := filepath.Join(t.TempDir(), "sgemm.s")
	cmd := exec.Command(goBin, "run", "sgemm_asmgen.go", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run sgemm_asmgen.go: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("sgemm_kernels_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("sgemm_kernels_amd64.s is not what sgemm_asmgen.go writes: run go generate ./kernels")
	}
}
