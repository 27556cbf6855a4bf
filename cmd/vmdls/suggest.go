package main

import (
	"flag"
	"strings"

	"github.com/vmdls-go/vmdls/data"
)

// Flag errors and did-you-mean suggestions.

// flagError rewrites the flag package's messages so they name the flag
// and say what would be valid.
func flagError(cmd string, fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		hint := ""
		if near := nearestFlags(fs, name); len(near) > 0 {
			hint = "; did you mean --" + strings.Join(near, ", --") + "?"
		}
		return usageErrorf("%s: unknown flag --%s%s (vmdls %s -h lists the flags)", cmd, name, hint, cmd)
	}
	if rest, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return usageErrorf("%s: flag %s needs a value", cmd, strings.Replace(rest, "-", "--", 1))
	}
	// "invalid value "x" for flag -lr: parse error"
	if i := strings.Index(msg, " for flag -"); strings.HasPrefix(msg, "invalid ") && i > 0 {
		name := msg[i+len(" for flag -"):]
		if j := strings.Index(name, ":"); j > 0 {
			name = name[:j]
		}
		want := "a value"
		if f := fs.Lookup(name); f != nil {
			switch f.Value.(type) {
			case interface{ IsBoolFlag() bool }:
				want = "no value (it is a switch) or =true/=false"
			default:
				switch f.Value.(flag.Getter).Get().(type) {
				case int:
					want = "an integer"
				case uint64:
					want = "a non-negative integer"
				case float64:
					want = "a number"
				case *data.BadImages:
					want = "fail, scan or skip"
				}
			}
		}
		return usageErrorf("%s: --%s: %s; want %s", cmd, name, strings.TrimSpace(msg[len("invalid "):i]), want)
	}
	return usageErrorf("%s: %v", cmd, err)
}

// nearestFlags lists the flags that look like a mistyped name.
func nearestFlags(fs *flag.FlagSet, name string) []string {
	var out []string
	fs.VisitAll(func(f *flag.Flag) {
		if strings.Contains(f.Name, name) || strings.Contains(name, f.Name) || editDistance(f.Name, name) <= 2 {
			out = append(out, f.Name)
		}
	})
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
