package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Tests of issue 22, the command line a new user meets: the built binary
// run as a user types it, its exit status, what it prints and what it
// leaves on disk.

var (
	uxBinOnce sync.Once
	uxBin     string
	uxBinErr  error
	uxBinOut  []byte
)

// builtBinary builds vmdls once for all the tests of this file.
func builtBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	uxBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vmdls-ux-")
		if err != nil {
			uxBinErr = err
			return
		}
		uxBin = filepath.Join(dir, "vmdls")
		uxBinOut, uxBinErr = exec.Command("go", "build", "-o", uxBin, ".").CombinedOutput()
	})
	if uxBinErr != nil {
		t.Fatalf("go build: %v\n%s", uxBinErr, uxBinOut)
	}
	return uxBin
}

// TestHelpBinary runs -h, --help and `help CMD` of every command and
// subcommand through the binary: exit 0, the command's own usage on stdout,
// nothing on stderr.
func TestHelpBinary(t *testing.T) {
	bin := builtBinary(t)
	cmds := []string{"train", "test", "train-ae", "demo", "info", "convert", "data", "bench",
		"data fetch", "data verify", "data info", "bench gemm", "bench conv", "bench train-step", "bench infer"}
	for _, cmd := range cmds {
		words := strings.Fields(cmd)
		forms := [][]string{append(slicesClone(words), "--help"), append([]string{"help"}, words...)}
		if cmd != "bench conv" { // there -h is the input height
			forms = append(forms, append(slicesClone(words), "-h"))
		}
		for _, args := range forms {
			code, out, errOut := runBinary(t, bin, t.TempDir(), args...)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: vmdls "+cmd) {
				t.Errorf("vmdls %s: exit %d, stderr %q, stdout starts %.50q", strings.Join(args, " "), code, errOut, out)
			}
			if strings.Contains(out, "unknown subcommand") || strings.Contains(out, "flag: help requested") {
				t.Errorf("vmdls %s:\n%s", strings.Join(args, " "), out)
			}
		}
	}
}

// ownFlags returns the flags a help text lists as its own, one per line.
func ownFlags(help string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z_0-9]+) +[^-\s]`).FindAllStringSubmatch(help, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestHelpListsOwnFlags checks that train and test list their own flags
// and name the ones they accept only for the reference's command lines on
// one line, instead of each listing the other's.
func TestHelpListsOwnFlags(t *testing.T) {
	bin := builtBinary(t)
	_, train, _ := runBinary(t, bin, t.TempDir(), "train", "-h")
	_, test, _ := runBinary(t, bin, t.TempDir(), "test", "-h")
	for _, c := range []struct {
		help      string
		has, hasn []string
	}{
		{train, []string{"max_epochs", "lr", "margin_jump", "enc_type"}, []string{"ae_features", "latent_only"}},
		{test, []string{"checkpoint_path", "ae_features", "latent_only", "enc_type"}, []string{"max_epochs", "lr", "margin_jump"}},
	} {
		own := ownFlags(c.help)
		for _, f := range c.has {
			if !contains(own, f) {
				t.Errorf("--%s not listed:\n%s", f, c.help)
			}
		}
		for _, f := range c.hasn {
			if contains(own, f) {
				t.Errorf("--%s listed as the command's own:\n%s", f, c.help)
			}
			if !strings.Contains(c.help, "--"+f+" ") && !strings.Contains(c.help, "--"+f+"\n") {
				t.Errorf("--%s not named as accepted:\n%s", f, c.help)
			}
		}
	}
	if !strings.Contains(train, "validation pass") {
		t.Errorf("train -h does not say training validates:\n%s", train)
	}
}

// TestUnknownCommandBinary checks the suggestion for a misspelt command and
// subcommand, and exit status 2.
func TestUnknownCommandBinary(t *testing.T) {
	bin := builtBinary(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"trian"}, "did you mean train?"},
		{[]string{"data", "fecth"}, "did you mean fetch?"},
		{[]string{"help", "bnech"}, "did you mean bench?"},
	} {
		code, _, errOut := runBinary(t, bin, t.TempDir(), c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("vmdls %v: exit %d, stderr %s", c.args, code, errOut)
		}
	}
}

// TestVersionBinary checks that --version and version print the version
// line and, for a binary without VCS stamps, say so rather than nothing.
func TestVersionBinary(t *testing.T) {
	bin := builtBinary(t)
	for _, a := range []string{"--version", "version"} {
		code, out, _ := runBinary(t, bin, t.TempDir(), a)
		if code != 0 || !regexp.MustCompile(`^vmdls \S+ \((revision [0-9a-f]{12}(, modified)?|revision unknown[^)]*)\) go`).MatchString(out) {
			t.Errorf("vmdls %s: exit %d, %q", a, code, out)
		}
	}
	for v, pseudo := range map[string]bool{"v0.0.0-20260102030405-abcdef123456": true, "v0.1.1-0.20260102030405-abcdef123456+dirty": true, "v0.1.0": false} {
		if pseudoVersion.MatchString(v) != pseudo {
			t.Errorf("pseudoVersion(%q) = %v", v, !pseudo)
		}
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
