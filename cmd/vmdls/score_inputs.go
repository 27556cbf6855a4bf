package main

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/internal/regularfile"
)

// scoreExts are the image files score reads from a folder or an archive.
var scoreExts = []string{".png", ".jpg", ".jpeg"}

// archiveExts are the file names score reads as archives.
var archiveExts = []string{".zip", ".tar", ".tar.gz", ".tgz"}

// scoreSource is one INPUT of score: how many images it holds, and a walk
// that hands them, decoded, one at a time to fn in a fixed order.
type scoreSource struct {
	count int
	each  func(fn func(name string, img image.Image) error) error
}

// scoreInputs resolves the inputs, in order: a path that exists is a file,
// a folder or an archive; anything else must be a dataset split (NAME or
// NAME:SPLIT). Everything is checked, and counted, before any scoring, so
// that a typo in the last input is reported before minutes of work.
func scoreInputs(inputs []string, opt data.Options, limit int) ([]scoreSource, error) {
	var out []scoreSource
	for _, in := range inputs {
		st, err := os.Stat(in)
		var src scoreSource
		switch {
		case err == nil && st.IsDir():
			src, err = folderSource(in)
		case err == nil && isArchiveName(in):
			src, err = archiveSource(in)
		case err == nil:
			src = filesSource([]string{in})
		case errors.Is(err, fs.ErrNotExist) && looksLikeDataset(in):
			src, err = datasetSource(in, opt, limit)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

func isArchiveName(p string) bool {
	l := strings.ToLower(p)
	return slices.ContainsFunc(archiveExts, func(e string) bool { return strings.HasSuffix(l, e) })
}

func isImageName(p string) bool {
	return slices.Contains(scoreExts, strings.ToLower(filepath.Ext(p)))
}

// filesSource is image files, decoded one by one.
func filesSource(files []string) scoreSource {
	return scoreSource{count: len(files), each: func(fn func(string, image.Image) error) error {
		for _, p := range files {
			img, err := decodeForScore(p)
			if err != nil {
				return err
			}
			if err := fn(p, img); err != nil {
				return err
			}
		}
		return nil
	}}
}

// folderSource is every PNG or JPEG under dir, in lexical path order.
func folderSource(dir string) (scoreSource, error) {
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && isImageName(p) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		return scoreSource{}, err
	}
	if len(found) == 0 {
		return scoreSource{}, fmt.Errorf("%s holds no PNG or JPEG file", dir)
	}
	return filesSource(found), nil
}

// archiveSource is every PNG or JPEG member of a zip or tar archive, read
// into memory one at a time and never written anywhere: data.WalkArchive
// refuses member names that climb out of the archive and members (and
// archives) past its declared-size limits before reading them, and
// decodeImageBytes checks each image's declared pixels before decoding.
// The members are counted first, by name only.
func archiveSource(p string) (scoreSource, error) {
	n := 0
	err := data.WalkArchive(p, func(name string) bool {
		if isImageName(name) {
			n++
		}
		return false // counting: read nothing
	}, func(string, []byte) error { return nil })
	if err != nil {
		return scoreSource{}, err
	}
	if n == 0 {
		return scoreSource{}, fmt.Errorf("%s holds no PNG or JPEG member", p)
	}
	return scoreSource{count: n, each: func(fn func(string, image.Image) error) error {
		return data.WalkArchive(p, isImageName, func(member string, b []byte) error {
			name := p + "!" + member
			img, err := decodeImageBytes(bytes.NewReader(b), name)
			if err != nil {
				return err
			}
			return fn(name, img)
		})
	}}, nil
}

// looksLikeDataset reports whether in names a dataset split: a name of
// data.Names, with an optional :train or :test.
func looksLikeDataset(in string) bool {
	name, _, _ := strings.Cut(in, ":")
	return slices.Contains(data.Names, name)
}

// datasetSource is a named dataset split (split test unless said), its
// first limit images when limit > 0, named NAME:SPLIT#INDEX.
func datasetSource(in string, opt data.Options, limit int) (scoreSource, error) {
	name, splitName, hasSplit := strings.Cut(in, ":")
	split := data.Test
	switch {
	case !hasSplit, splitName == "test":
	case splitName == "train":
		split = data.Train
	default:
		return scoreSource{}, fmt.Errorf("%s: split %q: want train or test", in, splitName)
	}
	set, err := data.Open(name, split, opt)
	if err != nil {
		return scoreSource{}, fmt.Errorf("%s: %w", in, err)
	}
	if _, ok := set.Dataset.(data.FloatDataset); ok {
		return scoreSource{}, fmt.Errorf("%s is generated noise tensors, not images; score image files or an image dataset", in)
	}
	n := set.Len()
	if limit > 0 {
		n = min(n, limit)
	}
	label := name + ":" + split.String()
	return scoreSource{count: n, each: func(fn func(string, image.Image) error) error {
		for i := range n {
			im, err := set.Image(i)
			if err != nil {
				return fmt.Errorf("%s image %d: %w", label, i, err)
			}
			if err := fn(fmt.Sprintf("%s#%d", label, i), goImage(im)); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// goImage is a dataset image as an image.Image that data.FromGoImage
// turns back into the same bytes: gray for one channel, opaque RGB for
// three.
func goImage(m *data.Image) image.Image {
	if m.C == 1 {
		return &image.Gray{Pix: m.Plane(0), Stride: m.W, Rect: image.Rect(0, 0, m.W, m.H)}
	}
	out := image.NewNRGBA(image.Rect(0, 0, m.W, m.H))
	n := m.H * m.W
	for i := range n {
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = m.Pix[i], m.Pix[n+i], m.Pix[2*n+i], 255
	}
	return out
}

// decodeForScore decodes one image file, refusing what is not a regular
// file.
func decodeForScore(path string) (image.Image, error) {
	f, _, err := regularfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeImageBytes(f, path)
}

// decodeImageBytes decodes a PNG or JPEG, refusing before decoding an
// image whose header claims more than data.MaxImagePixels pixels (a small
// file can claim a huge one).
func decodeImageBytes(r io.ReadSeeker, name string) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > int64(data.MaxImagePixels) {
		return nil, fmt.Errorf("%s: image size %dx%d is empty or over the %d-pixel limit", name, cfg.Width, cfg.Height, data.MaxImagePixels)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return img, nil
}
