package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // the formats score decodes
	_ "image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/internal/regularfile"
	"github.com/vmdls-go/vmdls/ovd"
)

// scoreExts are the image files score reads from a folder.
var scoreExts = []string{".png", ".jpg", ".jpeg"}

// runScore is `vmdls score --detector FILE INPUT...`: every image file
// given, and every PNG or JPEG under every folder given (in path order),
// scored by the detector file, one CSV row each: path, score, class,
// unknown.
func runScore(args []string, stdout, stderr io.Writer) error {
	const synopsis = "score --detector FILE [--out FILE] [--batch N] INPUT..."
	fs := commandFlags("score")
	detPath := fs.String("detector", "", "the detector file (ovd.FitDetector's, Detector.Save)")
	out := fs.String("out", "", "write the CSV to this file instead of standard output")
	batch := fs.Int("batch", 64, "images decoded and scored at a time (bounds memory)")
	inputs, err := parseWithNames(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, synopsis, "INPUT is a PNG or JPEG file or a folder of them (searched recursively).\nOne CSV row per image: path, score (higher = more like the known classes),\nclass (the most likely known class), unknown (below the file's threshold).", fs)
		return errHelpShown
	}
	if err != nil {
		return parseFailed(synopsis, fs, err, stdout)
	}
	switch {
	case *detPath == "":
		return usageErrorf("score: --detector FILE is required")
	case len(inputs) == 0:
		return usageErrorf("score: no INPUT: give image files or folders")
	case *batch < 1:
		return usageErrorf("score: --batch %d: want at least 1", *batch)
	}
	files, err := scoreFiles(inputs)
	if err != nil {
		return usageErrorf("score: %v", err)
	}
	det, err := ovd.LoadDetector(*detPath)
	if err != nil {
		return usageErrorf("score: --detector: %v", err)
	}
	w := stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			return usageErrorf("score: --out: %v", err)
		}
		defer f.Close()
		w = f
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"path", "score", "class", "unknown"})
	ctx := context.Background()
	for lo := 0; lo < len(files); lo += *batch {
		chunk := files[lo:min(lo+*batch, len(files))]
		imgs := make([]image.Image, len(chunk))
		for i, p := range chunk {
			if imgs[i], err = decodeForScore(p); err != nil {
				return usageErrorf("score: %v", err)
			}
		}
		res, err := det.ScoreImages(ctx, imgs)
		if err != nil {
			return &exitError{1, fmt.Errorf("score: %w", err)}
		}
		for i, r := range res {
			cw.Write([]string{chunk[i], strconv.FormatFloat(r.Score, 'g', -1, 64), r.ClassName, strconv.FormatBool(r.Unknown)})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return &exitError{1, fmt.Errorf("score: writing the CSV: %w", err)}
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return &exitError{1, fmt.Errorf("score: --out: %w", err)}
		}
		fmt.Fprintf(stderr, "vmdls: score: %d images scored into %s\n", len(files), *out)
	}
	return nil
}

// scoreFiles lists the image files of the inputs: files as given, folders
// walked for scoreExts in lexical order.
func scoreFiles(inputs []string) ([]string, error) {
	var files []string
	for _, in := range inputs {
		st, err := os.Stat(in)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, in)
			continue
		}
		var found []string
		err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && slices.Contains(scoreExts, strings.ToLower(filepath.Ext(p))) {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s holds no PNG or JPEG file", in)
		}
		files = append(files, found...)
	}
	return files, nil
}

// decodeForScore decodes one image file, refusing what is not a regular
// file and, before decoding, an image whose header claims more than
// data.MaxImagePixels pixels (a small file can claim a huge one).
func decodeForScore(path string) (image.Image, error) {
	f, _, err := regularfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > int64(data.MaxImagePixels) {
		return nil, fmt.Errorf("%s: image size %dx%d is empty or over the %d-pixel limit", path, cfg.Width, cfg.Height, data.MaxImagePixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}
