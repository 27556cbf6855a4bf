package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// One help system for every subcommand: -h, -help, --help and
// `vmdls help CMD` print the same text to stdout and exit 0, and every
// flag error is reported by flagError, naming the flag.

// errHelpShown is what a subcommand returns once it has printed its help:
// run turns it into success.
var errHelpShown = errors.New("help shown")

// commandFlags returns a subcommand's flag set. The flag package prints
// nothing itself: parseFailed reports help and errors.
func commandFlags(cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFailed turns the error of parsing cmd's flags into what the
// subcommand returns: its help on stdout for -h (errHelpShown), else a
// usage error naming the flag. synopsis follows "usage: vmdls".
func parseFailed(synopsis string, fs *flag.FlagSet, err error, stdout io.Writer) error {
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, synopsis, "", fs)
		return errHelpShown
	}
	return flagError(fs.Name(), fs, err)
}

// printUsage prints a subcommand's help: its synopsis, a note, and its
// flags one per line with their defaults.
func printUsage(w io.Writer, synopsis, note string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: vmdls %s\n\n", synopsis)
	if note != "" {
		fmt.Fprintf(w, "%s\n\n", note)
	}
	fmt.Fprintln(w, "flags (-- or - both work):")
	printFlagList(w, fs)
}

func printFlagList(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		if def == "" {
			def = "none"
		}
		text := fmt.Sprintf("%s (default %s)", f.Usage, def)
		if strings.Contains(f.Usage, "(default") {
			// The usage says the default in words ($VMDLS_DATA, derived
			// from --enc_type): the value of this machine would contradict it.
			text = f.Usage
		}
		// Wrapped under the text column, so that the help reads in a
		// terminal of 80 columns.
		var b strings.Builder
		printWrapped(&b, strings.Repeat(" ", 25), text, 79)
		fmt.Fprintf(w, "  --%-20s %s", f.Name, strings.TrimLeft(b.String(), " "))
	})
}

// commandGroup is a command made of subcommands (data, bench).
type commandGroup struct {
	name string
	subs []subcommand
}

type subcommand struct{ name, summary string }

var dataCommands = commandGroup{"data", []subcommand{
	{"fetch NAME...", "download datasets and check their sums"},
	{"verify NAME...", "check the files the loader reads: sizes, sums, decode"},
	{"info --dataset NAME", "what was found where: images, shape, classes"},
}}

var benchCommands = commandGroup{"bench", []subcommand{
	{"gemm", "SGEMM GFLOP/s (--m --n --k --threads --reps)"},
	{"conv", "a convolution's forward and backward (--cin ...)"},
	{"train-step", "a network's training step in images/s (--enc_type ...)"},
	{"infer", "a network's inference in images/s (--enc_type ...)"},
	{"serve", "vmdls serve under concurrent clients (--detector ...)"},
}}

// isHelpArg reports whether a is one of the help flags.
func isHelpArg(a string) bool {
	switch a {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// help prints the group's subcommands.
func (g commandGroup) help(w io.Writer) {
	fmt.Fprintf(w, "usage: vmdls %s <subcommand> [flags]\n\nsubcommands:\n", g.name)
	for _, s := range g.subs {
		fmt.Fprintf(w, "  %-22s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(w, "\nvmdls %s <subcommand> -h lists its flags.\n", g.name)
}

// names returns the bare subcommand names.
func (g commandGroup) names() []string {
	var out []string
	for _, s := range g.subs {
		out = append(out, strings.Fields(s.name)[0])
	}
	return out
}

// unknown is the error for a subcommand the group does not have, with the
// nearest names when the word looks like a misspelling of one.
func (g commandGroup) unknown(name string) error {
	return usageErrorf("%s: unknown subcommand %q%s (want %s; vmdls %s -h lists them)",
		g.name, name, didYouMean(name, g.names()), strings.Join(g.names(), ", "), g.name)
}

// commands are the top-level command names, for suggestions.
var commands = []string{"info", "bench", "data", "train", "test", "train-ae", "demo", "convert", "score", "fit", "serve", "help", "version"}

// didYouMean returns "; did you mean X?" for the names within two edits
// of name (or that it is a prefix of), or "".
func didYouMean(name string, names []string) string {
	var near []string
	for _, n := range names {
		if editDistance(n, name) <= 2 || (len(name) >= 2 && strings.HasPrefix(n, name)) {
			near = append(near, n)
		}
	}
	if len(near) == 0 {
		return ""
	}
	return "; did you mean " + strings.Join(near, " or ") + "?"
}

// pseudoVersion matches the module version the go command makes up for an
// untagged commit.
var pseudoVersion = regexp.MustCompile(`-(0\.)?\d{14}-[0-9a-f]{12}(\+dirty)?$`)

// buildVersion is the release and the VCS revision the binary was built
// from, as the Go toolchain records them in the build information: the
// module version of a release build (go install ...@v0.1.0), else version;
// rev is "" when the build recorded none (go test, -buildvcs=false).
func buildVersion() (v, rev string, modified bool) {
	v = version
	if bi, ok := debug.ReadBuildInfo(); ok {
		// A release (go install ...@v0.1.0) names itself; a pseudo-version
		// (v0.0.0-20260102030405-abcdef123456) says no more than the
		// revision, so the development version stays.
		if mv := bi.Main.Version; mv != "" && mv != "(devel)" && !pseudoVersion.MatchString(mv) {
			v = strings.TrimPrefix(mv, "v")
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	return v, rev, modified
}

// versionString is the line version and info print: the release, the
// revision (or that it is unknown), the Go release and the platform.
func versionString() string {
	v, rev, modified := buildVersion()
	out := "vmdls " + v
	switch {
	case rev != "" && modified:
		out += fmt.Sprintf(" (revision %.12s, modified)", rev)
	case rev != "":
		out += fmt.Sprintf(" (revision %.12s)", rev)
	default:
		// go test, go run and -buildvcs=false record no revision.
		out += " (revision unknown: built without VCS information)"
	}
	return fmt.Sprintf("%s %s %s/%s", out, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
