package main

import (
	"strings"
	"testing"
)

// TestDemoLinesAreTheReadmes checks that the demo's command lines are the
// README's MNIST lines word for word (testdata/seed-commands.txt, which
// TestSeedCommandsMatchReadme keeps equal to the README), quotes aside.
func TestDemoLinesAreTheReadmes(t *testing.T) {
	found := map[string]bool{}
	for _, l := range seedCommands(t) {
		words := shellWords(l)
		if !strings.Contains(l, "--enc_type mnist-conv") {
			continue
		}
		got := strings.Join(words[2:], " ")
		switch words[1] {
		case "main.py":
			found["main.py"] = got == demoTrainLine
		case "test.py":
			found["test.py"] = got == demoTestLine
		}
		if !found[words[1]] {
			t.Errorf("the README's %s MNIST line:\n%s\nthe demo's differs", words[1], got)
		}
	}
	if !found["main.py"] || !found["test.py"] {
		t.Errorf("found %v; want both MNIST lines", found)
	}
}
