package ovd

import (
	"slices"
	"strings"
	"testing"
)

// TestUnknownSets checks the list form of --unknown_dataset: one name as
// the reference gives it, a list in order, odin's four sets for a CIFAR
// known set (and its refusal for MNIST), and the names it refuses.
func TestUnknownSets(t *testing.T) {
	for _, tc := range []struct {
		known, unknown string
		want           []string
	}{
		{"mnist", "omniglot", []string{"omniglot"}},
		{"mnist", "omniglot, mnist_noise,noise", []string{"omniglot", "mnist_noise", "noise"}},
		{"cifar10", "odin", ODINSets},
		{"cifar_known", "cifar_unknown,odin", append([]string{"cifar_unknown"}, ODINSets...)},
	} {
		c := Config{KnownDataset: tc.known, UnknownDataset: tc.unknown}
		got, err := c.UnknownSets()
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s vs %q: %v %v, want %v", tc.known, tc.unknown, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ known, unknown, want string }{
		{"mnist", "odin", "32x32 colour images"},
		{"cifar10", "odin,lsun-crop", "lsun-crop is named twice"},
		{"mnist", "omniglot,,noise", "an empty name"},
		{"mnist", "omniglott", `"omniglott": want one of`},
	} {
		c := Config{KnownDataset: tc.known, UnknownDataset: tc.unknown}
		if _, err := c.UnknownSets(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s vs %q: %v, want %q", tc.known, tc.unknown, err, tc.want)
		}
	}
}
