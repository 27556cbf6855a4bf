package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/vmdls-go/vmdls/data"
)

// runData runs the dataset subcommands: fetch, verify and info.
func runData(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		dataCommands.help(stderr)
		return usageErrorf("data: want a subcommand: fetch NAME | verify NAME | info --dataset NAME")
	}
	if isHelpArg(args[0]) {
		dataCommands.help(stdout)
		return errHelpShown
	}
	switch args[0] {
	case "fetch":
		return runDataFetch(args[1:], stdout, stderr)
	case "verify":
		return runDataVerify(args[1:], stdout, stderr)
	case "info":
		return runDataInfo(args[1:], stdout, stderr)
	default:
		return dataCommands.unknown(args[0])
	}
}

// parseWithNames parses flags that may come before or after the positional
// names (Go's flag package stops at the first name).
func parseWithNames(fs *flag.FlagSet, args []string) ([]string, error) {
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return names, nil
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func dataDirFlag(fs *flag.FlagSet) *string {
	return fs.String("data_dir", data.DefaultDir(), "data directory (default $VMDLS_DATA or ./data)")
}

func runDataFetch(args []string, stdout, stderr io.Writer) error {
	fs := commandFlags("data fetch")
	dir := dataDirFlag(fs)
	names, err := parseWithNames(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		var note strings.Builder
		printWrapped(&note, "", "NAME is one of "+strings.Join(data.RemoteNames(), ", ")+".", 79)
		printUsage(stdout, "data fetch [flags] NAME...", strings.TrimSuffix(note.String(), "\n"), fs)
		return errHelpShown
	}
	if err != nil {
		return parseFailed("data fetch [flags] NAME...", fs, err, stdout)
	}
	if len(names) == 0 {
		return fmt.Errorf("data fetch: name a dataset (%s)", strings.Join(data.RemoteNames(), ", "))
	}
	f := &data.Fetcher{Log: stdout}
	for _, n := range names {
		if err := f.Fetch(context.Background(), *dir, n); err != nil {
			return err
		}
	}
	return nil
}

// runDataVerify checks every file the loader reads for each named dataset
// (sizes and sums where known, then a full decode). Bad or missing data is
// exit status 2, with the message naming the file.
func runDataVerify(args []string, stdout, stderr io.Writer) error {
	fs := commandFlags("data verify")
	dir := dataDirFlag(fs)
	classNum := fs.Int("class_num", 10, "known classes: labels below it (for the *_known/*_unknown names)")
	names, err := parseWithNames(fs, args)
	if err != nil {
		return parseFailed("data verify [flags] NAME...", fs, err, stdout)
	}
	if len(names) == 0 {
		return usageErrorf("data verify: name a dataset (%s, cifar100)", strings.Join(data.Names, ", "))
	}
	for _, n := range names {
		vs, err := data.VerifyDataset(n, data.Options{Dir: *dir, ClassNum: *classNum})
		if err != nil {
			return &exitError{2, fmt.Errorf("data verify %s: %w", n, err)}
		}
		for _, v := range vs {
			if len(v.Files) == 0 {
				fmt.Fprintf(stdout, "%s %s: %d images, generated (no files)\n", n, v.Split, v.Items)
				continue
			}
			fmt.Fprintf(stdout, "%s %s: %d images decoded\n", n, v.Split, v.Items)
			for _, f := range v.Files {
				if f.Sums == "" {
					fmt.Fprintf(stdout, "  %s: decoded; no known sum for this file\n", f.Path)
				} else {
					fmt.Fprintf(stdout, "  %s: decoded; %s match\n", f.Path, f.Sums)
				}
			}
		}
		fmt.Fprintf(stdout, "%s: OK\n", n)
	}
	return nil
}

func runDataInfo(args []string, stdout, stderr io.Writer) error {
	fs := commandFlags("data info")
	dir := dataDirFlag(fs)
	name := fs.String("dataset", "", "dataset name ("+strings.Join(data.Names, ", ")+")")
	classNum := fs.Int("class_num", 10, "known classes: labels below it")
	download := fs.Bool("download", false, "fetch missing files")
	if _, err := parseWithNames(fs, args); err != nil {
		return parseFailed("data info --dataset NAME [flags]", fs, err, stdout)
	}
	if *name == "" {
		return fmt.Errorf("data info: --dataset is required (%s)", strings.Join(data.Names, ", "))
	}
	opt := data.Options{Dir: *dir, ClassNum: *classNum, Download: *download, Log: stdout}
	for _, split := range []data.Split{data.Train, data.Test} {
		set, err := data.Open(*name, split, opt)
		if err != nil {
			var me *data.MissingError
			if errors.As(err, &me) {
				return err
			}
			return fmt.Errorf("data info: %s %s: %w", *name, split, err)
		}
		c, h, w := set.Shape()
		fmt.Fprintf(stdout, "%s %s: %d images, %dx%dx%d, from %s\n", *name, split, set.Len(), c, h, w, set.Source)
		// Labels are checked against the class names where the dataset has
		// them: a label of -1 or 2^27 in a crafted file is an error, not a
		// panic or an allocation by label value.
		counts, err := data.ClassCountsChecked(set, len(set.Classes))
		if err != nil {
			return usageErrorf("data info: %s %s (%s): %v", *name, split, set.Source, err)
		}
		for label, n := range counts {
			if n == 0 {
				continue
			}
			cls := ""
			if label < len(set.Classes) {
				cls = " " + set.Classes[label]
			}
			fmt.Fprintf(stdout, "  class %d%s: %d\n", label, cls, n)
		}
	}
	return nil
}
