package main

import (
	"flag"
	"strings"

	"github.com/vmdls-go/vmdls/ovd"
)

// addTestFlags binds the flags only vmdls test has: the baselines scored
// beside the method and the feature folders. --unknown_dataset's list form
// is described here too, since only test scores several sets.
func addTestFlags(fs *flag.FlagSet, c *ovd.Config) {
	fs.Lookup("unknown_dataset").Usage += "; test also takes a comma list (one fit, every set scored, a sub-folder of results per set) and odin for " +
		strings.Join(ovd.ODINSets, ", ") + " (CIFAR)"
	fs.StringVar(&c.Baselines, "baselines", c.Baselines, "baselines scored on the same features, no retraining: all, none or a comma list of "+
		strings.Join(ovd.BaselineNames, ", ")+" (default all: on MNIST they cost seconds beside the passes over the data)")
	fs.IntVar(&c.KNNK, "knn_k", c.KNNK, "the k of the knn baseline, 1..50")
	fs.IntVar(&c.KNNTrain, "knn_train", c.KNNTrain, "training images the knn baseline searches, drawn uniformly with --seed (0: all); recorded in results.json")
	fs.StringVar(&c.FeaturesOut, "features_out", c.FeaturesOut, "also write the fitted (training) and scored features with their labels to this folder as .npy files")
	fs.StringVar(&c.FeaturesIn, "features_in", c.FeaturesIn, "score the features a --features_out folder holds, without the network (no --checkpoint_path needed)")
}
