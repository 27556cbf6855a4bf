package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpEverywhere runs every subcommand's help as a user types it
// (-h, -help, --help and vmdls help CMD): each prints its usage to stdout,
// nothing to stderr, and succeeds (exit 0).
func TestHelpEverywhere(t *testing.T) {
	cmds := []string{"train", "test", "train-ae", "demo", "info", "convert",
		"data fetch", "data verify", "data info", "bench gemm", "bench conv", "bench train-step", "bench infer"}
	for _, cmd := range cmds {
		words := strings.Fields(cmd)
		forms := [][]string{append(words, "-help"), append(words, "--help"), append([]string{"help"}, words...)}
		if cmd != "bench conv" { // there -h is the input height
			forms = append(forms, append(words, "-h"))
		}
		for _, args := range forms {
			var out, errOut bytes.Buffer
			err := run(args, &out, &errOut)
			if err != nil {
				t.Errorf("vmdls %s: %v", strings.Join(args, " "), err)
				continue
			}
			if want := "usage: vmdls " + cmd; !strings.HasPrefix(out.String(), want) {
				t.Errorf("vmdls %s: stdout starts %.60q, want %q", strings.Join(args, " "), out.String(), want)
			}
			if !strings.Contains(out.String(), "--") {
				t.Errorf("vmdls %s: no flags listed:\n%s", strings.Join(args, " "), out.String())
			}
			if errOut.Len() != 0 {
				t.Errorf("vmdls %s: wrote to stderr: %s", strings.Join(args, " "), errOut.String())
			}
		}
	}
	// The groups list their subcommands.
	for _, g := range []commandGroup{dataCommands, benchCommands} {
		for _, args := range [][]string{{g.name, "-h"}, {g.name, "--help"}, {"help", g.name}} {
			var out, errOut bytes.Buffer
			if err := run(args, &out, &errOut); err != nil {
				t.Errorf("vmdls %s: %v", strings.Join(args, " "), err)
			}
			for _, sub := range g.names() {
				if !strings.Contains(out.String(), "  "+sub) {
					t.Errorf("vmdls %s: %s not listed:\n%s", strings.Join(args, " "), sub, out.String())
				}
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"help", "help"}} {
		var out, errOut bytes.Buffer
		if err := run(args, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "usage: vmdls <command>") {
			t.Errorf("vmdls %s: %v, stdout %.40q", strings.Join(args, " "), err, out.String())
		}
	}
}

// TestUnknownCommandsSuggest checks the errors for a misspelt command or
// subcommand: exit status 2 and the nearest name suggested.
func TestUnknownCommandsSuggest(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"trian"}, "did you mean train?"},
		{[]string{"help", "tset"}, "did you mean test?"},
		{[]string{"data", "verfy"}, "did you mean verify?"},
		{[]string{"bench", "gem"}, "did you mean gemm?"},
		{[]string{"bench", "xyz"}, "want gemm, conv, train-step, infer"},
		{[]string{"info", "--chekpoint", "x"}, "did you mean --checkpoint?"},
	} {
		var out, errOut bytes.Buffer
		err := run(c.args, &out, &errOut)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("vmdls %s: %v (exit %d), want exit 2 and %q", strings.Join(c.args, " "), err, exitCode(err), c.want)
		}
	}
}

// TestVersion checks that every spelling prints the release line, as info
// does.
func TestVersion(t *testing.T) {
	for _, a := range []string{"version", "--version", "-version"} {
		var out, errOut bytes.Buffer
		if err := run([]string{a}, &out, &errOut); err != nil || strings.TrimSpace(out.String()) != versionString() {
			t.Errorf("vmdls %s: %v, %q", a, err, out.String())
		}
	}
	if v := versionString(); !strings.HasPrefix(v, "vmdls "+version) && !strings.HasPrefix(v, "vmdls 0") {
		t.Errorf("versionString %q", v)
	}
	var out bytes.Buffer
	if err := run([]string{"info"}, &out, &bytes.Buffer{}); err != nil || !strings.HasPrefix(out.String(), versionString()+"\n") {
		t.Errorf("info: %v, first line %.60q", err, out.String())
	}
}
