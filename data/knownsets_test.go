package data

import (
	"slices"
	"strings"
	"testing"
)

// TestKnownSets checks that every known set is a name Open takes, that the
// list is in name order and that LookupKnown finds each one and nothing
// else.
func TestKnownSets(t *testing.T) {
	ks := KnownSets()
	if len(ks) != 7 {
		t.Fatalf("%d known sets, want 7", len(ks))
	}
	if !slices.IsSortedFunc(ks, func(a, b KnownSet) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("not in name order: %v", ks)
	}
	for _, k := range ks {
		if !slices.Contains(Names, k.Name) {
			t.Errorf("%s is not in Names", k.Name)
		}
		if got, ok := LookupKnown(k.Name); !ok || got != k {
			t.Errorf("LookupKnown(%q) = %+v, %v", k.Name, got, ok)
		}
		if k.Classes < 2 || k.Channels < 1 || k.Height < 1 || k.Width < 1 {
			t.Errorf("%+v: want classes and a shape", k)
		}
	}
	for _, n := range []string{"omniglot", "noise", "lsun-crop", "cifar_unknown", "nope"} {
		if _, ok := LookupKnown(n); ok {
			t.Errorf("%s is an unknown-only set or no set, but LookupKnown found it", n)
		}
	}
}
