package main

import "testing"

func TestLazyFreeGODEBUG(t *testing.T) {
	for _, c := range []struct {
		cur, want string
		change    bool
	}{
		{"", "madvdontneed=0", true},
		{"gctrace=1", "gctrace=1,madvdontneed=0", true},
		{"madvdontneed=1", "madvdontneed=1", false}, // the user's choice stands
		{"gctrace=1, madvdontneed=0", "gctrace=1, madvdontneed=0", false},
	} {
		got, change := lazyFreeGODEBUG(c.cur)
		if got != c.want || change != c.change {
			t.Errorf("lazyFreeGODEBUG(%q) = %q, %v; want %q, %v", c.cur, got, change, c.want, c.change)
		}
		if !pagesReturnedLazily(got) && c.change {
			t.Errorf("pagesReturnedLazily(%q) = false after the change", got)
		}
	}
	for _, c := range []struct {
		v    string
		want bool
	}{
		{"", false},
		{"madvdontneed=0", true},
		{"madvdontneed=0,madvdontneed=1", false}, // the last one wins
		{"madvdontneed=1,madvdontneed=0", true},
		{"gctrace=1", false},
	} {
		if got := pagesReturnedLazily(c.v); got != c.want {
			t.Errorf("pagesReturnedLazily(%q) = %v, want %v", c.v, got, c.want)
		}
	}
}
