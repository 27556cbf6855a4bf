package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vmdls-go/vmdls/internal/regularfile"
)

// The resolved configuration: --dry_run's JSON, --config files and the
// config.json every run writes.

// configSkipped are the keys of the dry-run JSON that --config does not
// read: what a replay must not repeat (printing instead of running,
// reading itself), and the second names of aliased settings, whose values
// the first names carry.
var configSkipped = []string{"dry_run", "config", "margin_jumps", "dataset", "skip_bad_images"}

// applyConfig sets the flags a --config file names and the command line
// does not, as if they had been given (so nothing derived replaces them).
func (o *runOptions) applyConfig(path string) error {
	if !regularFile(path) {
		if _, err := os.Stat(path); err != nil {
			return usageErrorf("%s: --config %s: %v", o.cmd, path, errors.Unwrap(err))
		}
		return usageErrorf("%s: --config %s is not a regular file", o.cmd, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return usageErrorf("%s: --config %s: %v", o.cmd, path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // a seed above 2^53 stays exact
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return usageErrorf("%s: --config %s: not the JSON object --dry_run prints: %v", o.cmd, path, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if contains(configSkipped, k) || o.given[k] {
			continue
		}
		f := o.fs.Lookup(k)
		if f == nil {
			hint := ""
			if near := nearestFlags(o.fs, k); len(near) > 0 {
				hint = "; did you mean " + strings.Join(near, ", ") + "?"
			}
			return usageErrorf("%s: --config %s: unknown setting %q%s (the keys are vmdls %s's flag names)", o.cmd, path, k, hint, o.cmd)
		}
		var v string
		switch x := m[k].(type) {
		case nil:
			continue // unset (the reference's None)
		case string:
			v = x
		case json.Number:
			v = x.String()
		case bool:
			v = strconv.FormatBool(x)
		default:
			return usageErrorf("%s: --config %s: %s: want a string, number or boolean, not %v", o.cmd, path, k, x)
		}
		if err := o.fs.Set(k, v); err != nil {
			return usageErrorf("%s: --config %s: %s %q: %v", o.cmd, path, k, v, err)
		}
		o.given[k] = true
	}
	return nil
}

// dryRunJSON is the resolved configuration as one JSON object keyed by the
// flag names (both spellings of --margin_jump(s)), in name order.
func (o *runOptions) dryRunJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteString("{")
	var err error
	first := true
	o.fs.VisitAll(func(f *flag.Flag) {
		if err != nil {
			return
		}
		if f.Name == "config" {
			// The resolved settings stand alone: replaying them needs
			// no other file.
			return
		}
		var v any
		switch f.Name {
		case "output_dir":
			v = o.cfg.OutputDir
		case "dataset":
			v = o.cfg.KnownDataset
		default:
			v = f.Value.(flag.Getter).Get()
		}
		kb, _ := json.Marshal(f.Name)
		vb, e := json.Marshal(v)
		if e != nil {
			err = fmt.Errorf("--%s: %v", f.Name, e)
			return
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		b.Write(kb)
		b.WriteString(":")
		b.Write(vb)
	})
	b.WriteString("}")
	return []byte(b.String()), err
}

// defaultOutputDir is runs/<date-time>-<known>-<unknown>-<enc_type>.
func (o *runOptions) defaultOutputDir(now time.Time) string {
	parts := []string{now.Format("20060102-150405")}
	if o.cmd == "train-ae" {
		parts = append(parts, "ae", o.cfg.KnownDataset)
	} else {
		parts = append(parts, o.cfg.KnownDataset, o.cfg.UnknownDataset, o.cfg.EncType)
	}
	if o.cmd == "test" {
		parts = append(parts, "test")
	}
	name := strings.Join(parts, "-")
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == ' ' {
			return '_'
		}
		if r == ',' { // --unknown_dataset's list
			return '+'
		}
		return r
	}, name)
	return "runs/" + name
}

// filledString lists the settings taken from the checkpoint, as flags.
func (o *runOptions) filledString() string {
	var parts []string
	for _, name := range o.filled {
		parts = append(parts, "--"+name+" "+o.fs.Lookup(name).Value.String())
	}
	return strings.Join(parts, " ")
}

// writeConfig writes the run's resolved settings, the JSON --dry_run
// prints, as config.json beside metrics.jsonl: `--config config.json`
// replays the run. A resumed run rewrites it with its own settings.
func writeConfig(o *runOptions) error {
	b, err := o.dryRunJSON()
	if err != nil {
		return err
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, b, "", "  "); err != nil {
		return err
	}
	ind.WriteByte('\n')
	p := filepath.Join(o.cfg.OutputDir, "config.json")
	if st, err := os.Lstat(p); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s)", p, regularfile.Kind(st.Mode()))
	}
	return os.WriteFile(p, ind.Bytes(), 0o644)
}
