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
	"os"
	"strconv"
	"time"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/internal/atomicfile"
	"github.com/vmdls-go/vmdls/ovd"
)

// runScore is `vmdls score --detector FILE INPUT...`: every image of every
// input (files, folders, zip and tar archives, named dataset splits; see
// scoreInputs), scored by the detector file in batches of --batch, one CSV
// row each: path, score, class, unknown.
func runScore(args []string, stdout, stderr io.Writer) error {
	const synopsis = "score --detector FILE [--out FILE] [--batch N] INPUT..."
	fs := commandFlags("score")
	detPath := fs.String("detector", "", "the detector file (vmdls fit --out)")
	out := fs.String("out", "", "write the CSV to this file (atomically) instead of standard output")
	batch := fs.Int("batch", 64, "images decoded and scored at a time (bounds memory)")
	dataDir := dataDirFlag(fs)
	limit := fs.Int("limit", 0, "score only the first N images of each dataset input (0: all)")
	inputs, err := parseWithNames(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, synopsis, "INPUT is a PNG or JPEG file, a folder of them (searched recursively), a zip\n"+
			"or tar (.tar, .tar.gz, .tgz) archive of them (read in memory, never\n"+
			"unpacked), or a dataset split: NAME or NAME:SPLIT (mnist:test, omniglot;\n"+
			"split test unless said) under --data_dir. One CSV row per image: path,\n"+
			"score (higher = more like the known classes), class (the most likely known\n"+
			"class), unknown (below the file's threshold). Archive members are named\n"+
			"ARCHIVE!MEMBER, dataset images NAME:SPLIT#INDEX.", fs)
		return errHelpShown
	}
	if err != nil {
		return parseFailed(synopsis, fs, err, stdout)
	}
	switch {
	case *detPath == "":
		return usageErrorf("score: --detector FILE is required")
	case len(inputs) == 0:
		return usageErrorf("score: no INPUT: give image files, folders, archives or a dataset split")
	case *batch < 1:
		return usageErrorf("score: --batch %d: want at least 1", *batch)
	case *limit < 0:
		return usageErrorf("score: --limit %d: want 0 or more", *limit)
	}
	det, err := ovd.LoadDetector(*detPath)
	if err != nil {
		return usageErrorf("score: --detector: %v", err)
	}
	srcs, err := scoreInputs(inputs, data.Options{Dir: *dataDir, ClassNum: len(det.Classes())}, *limit)
	if err != nil {
		return usageErrorf("score: %v", err)
	}
	total := 0
	for _, s := range srcs {
		total += s.count
	}
	w := stdout
	var af *atomicfile.File
	if *out != "" {
		if af, err = atomicfile.Create(*out); err != nil {
			return usageErrorf("score: --out: %v", err)
		}
		defer af.Abort()
		w = af
	}
	sink := &scoreSink{det: det, batch: *batch, cw: csv.NewWriter(w), total: total, start: time.Now()}
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		sink.prog = newProgress(stderr, true)
		sink.prog.width = func() int { return termWidth(f) }
	}
	sink.cw.Write([]string{"path", "score", "class", "unknown"})
	for _, s := range srcs {
		if err := s.each(sink.add); err != nil {
			return sink.fail(err)
		}
	}
	if err := sink.flush(); err != nil {
		return sink.fail(err)
	}
	sink.report(true)
	if sink.cw.Flush(); sink.cw.Error() != nil {
		return &exitError{1, fmt.Errorf("score: writing the CSV: %w", sink.cw.Error())}
	}
	if af != nil {
		if err := af.Commit(); err != nil {
			return &exitError{1, fmt.Errorf("score: --out: %w", err)}
		}
		fmt.Fprintf(stderr, "vmdls: score: %d images scored into %s\n", sink.done, *out)
	}
	return nil
}

// scoreSink scores the images handed to add, batch at a time, and writes
// their rows in the order they came.
type scoreSink struct {
	det   *ovd.Detector
	batch int
	cw    *csv.Writer
	names []string
	imgs  []image.Image
	// done counts the images scored, of total; prog, on a terminal only,
	// shows them.
	done, total int
	start       time.Time
	prog        *progress
}

func (s *scoreSink) add(name string, img image.Image) error {
	s.names, s.imgs = append(s.names, name), append(s.imgs, img)
	if len(s.imgs) >= s.batch {
		return s.flush()
	}
	return nil
}

// flush scores the images held.
func (s *scoreSink) flush() error {
	if len(s.imgs) == 0 {
		return nil
	}
	res, err := s.det.ScoreImages(context.Background(), s.imgs)
	if err != nil {
		return &exitError{1, fmt.Errorf("score: %w", err)}
	}
	for i, r := range res {
		s.cw.Write([]string{s.names[i], strconv.FormatFloat(r.Score, 'g', -1, 64), r.ClassName, strconv.FormatBool(r.Unknown)})
	}
	s.done += len(res)
	s.names, s.imgs = s.names[:0], s.imgs[:0]
	s.report(false)
	return nil
}

// report shows the progress line, when there is one.
func (s *scoreSink) report(end bool) {
	if s.prog == nil {
		return
	}
	s.prog.observe(ovd.Event{Phase: "score", Steps: s.total, Images: s.done, Elapsed: time.Since(s.start), EpochEnd: end})
}

// fail ends the progress line and makes err the command's error: an
// input that cannot be read is a bad input (exit 2).
func (s *scoreSink) fail(err error) error {
	if s.prog != nil {
		s.prog.endLine()
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return usageErrorf("score: %v", err)
}
