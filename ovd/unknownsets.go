package ovd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vmdls-go/vmdls/data"
)

// ODINSets are the four out-of-distribution sets of Liang et al.'s ODIN
// paper that the CIFAR experiments score: what --unknown_dataset odin
// stands for.
var ODINSets = []string{"imagenet-crop", "imagenet-resize", "lsun-crop", "lsun-resize"}

// UnknownSets returns the unknown sets that --unknown_dataset names: one
// name, as the reference takes it, or a comma-separated list, each entry a
// dataset name or "odin" (ODINSets, for a CIFAR known set). Names are
// checked against data.Names; a name given twice is an error, since each
// set's files go to a folder named after it.
func (c *Config) UnknownSets() ([]string, error) {
	var out []string
	for _, n := range strings.Split(c.UnknownDataset, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "odin":
			if k, ok := data.LookupKnown(c.KnownDataset); ok && k.Channels != 3 {
				return nil, fmt.Errorf("--unknown_dataset odin: the ODIN sets (%s) are 32x32 colour images, for the CIFAR known sets; --known_dataset %s has %dx%dx%d images",
					strings.Join(ODINSets, ", "), c.KnownDataset, k.Channels, k.Height, k.Width)
			}
			out = append(out, ODINSets...)
			continue
		case n == "":
			return nil, fmt.Errorf("--unknown_dataset %q: an empty name in the list (want names separated by commas)", c.UnknownDataset)
		case !slices.Contains(data.Names, n):
			return nil, fmt.Errorf("--unknown_dataset %q: want one of %s, odin, or a comma-separated list of them", n, strings.Join(data.Names, ", "))
		}
		out = append(out, n)
	}
	for i, n := range out {
		if slices.Contains(out[:i], n) {
			return nil, fmt.Errorf("--unknown_dataset %s: %s is named twice", c.UnknownDataset, n)
		}
	}
	return out, nil
}
