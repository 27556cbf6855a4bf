package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/vmdls-go/vmdls/parallel"
)

// imageExtensions are the file endings torchvision's ImageFolder accepts;
// files with other endings are skipped. Of these, PNG and JPEG decode; the
// others are an error when read.
var imageExtensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}

func isImageName(name string) bool {
	l := strings.ToLower(name)
	for _, e := range imageExtensions {
		if strings.HasSuffix(l, e) {
			return true
		}
	}
	return false
}

// BadImages says what opening an image folder does about images that do
// not decode. Whatever the policy, an image that still fails when the
// loader decodes it is an error naming the archive and the member.
type BadImages int

const (
	// BadImagesFail, the default, reads the header of every image when the
	// folder opens (no pixels are decoded, so it is quick) and fails naming
	// the first file whose header is bad: truncated, not PNG or JPEG, an
	// empty or oversized picture. Corruption past the header is found when
	// the image is first decoded.
	BadImagesFail BadImages = iota
	// BadImagesScan decodes every image when the folder opens and fails
	// naming the first that does not decode, so that a run cannot stop
	// hours in on a corrupt image.
	BadImagesScan
	// BadImagesSkip decodes every image when the folder opens and leaves out
	// those that do not decode, with one warning saying how many and naming
	// the first few (vmdls --skip_bad_images). Labels stay those of the class
	// folders, so a skipped image never shifts another class's label.
	BadImagesSkip
)

// String returns "fail", "scan" or "skip".
func (b BadImages) String() string {
	switch b {
	case BadImagesScan:
		return "scan"
	case BadImagesSkip:
		return "skip"
	}
	return "fail"
}

// ParseBadImages reads a policy name: "fail", "scan" or "skip".
func ParseBadImages(name string) (BadImages, error) {
	for _, b := range []BadImages{BadImagesFail, BadImagesScan, BadImagesSkip} {
		if b.String() == name {
			return b, nil
		}
	}
	return 0, fmt.Errorf("bad-image policy %q: want fail, scan or skip", name)
}

// MarshalText writes the policy's name, so that configurations saved as
// JSON say "skip" rather than 2.
func (b BadImages) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText reads a policy name written by MarshalText.
func (b *BadImages) UnmarshalText(text []byte) error {
	v, err := ParseBadImages(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// FolderOptions says how to read an image folder.
type FolderOptions struct {
	// Sub is the folder inside the archive that holds the class folders
	// ("" for its root), e.g. "train" in cifar10-jpeg's train.tar.
	Sub string
	// Channels is 3 (RGB, torchvision ImageFolder's default loader) or 1
	// (L, as torchvision's Omniglot loads).
	Channels int
	// ClassDepth is how many folder levels name a class: 1 for ImageFolder,
	// 2 for Omniglot's alphabet/character. 0 means 1.
	ClassDepth int
	// BadImages is the policy for images that do not decode.
	BadImages BadImages
	// Log receives the warning about images BadImagesSkip leaves out; nil
	// means os.Stderr, since a silently smaller dataset is worse than an
	// unexpected line.
	Log io.Writer
}

// Folder is a Dataset of encoded images read into memory from a directory,
// zip or tar with ImageFolder semantics: the class folders under Sub, sorted
// by name, give labels 0..K-1; the images of a class are ordered like
// torchvision's sorted walk (folder, then file name). Images are decoded on
// each Image call, so decoding happens in the loader's workers.
type Folder struct {
	// Name is the archive path, used in errors.
	Name string
	// Classes are the class folder names (paths of ClassDepth components).
	Classes []string
	// Files are the member paths, in dataset order.
	Files []string
	// Skipped are the images BadImagesSkip left out, each a *FormatError
	// naming the member and the problem.
	Skipped  []error
	labels   []int
	blobs    [][]byte
	channels int
	c, h, w  int
}

// maxSkipNames is how many skipped images the warning names.
const maxSkipNames = 5

// OpenFolder reads the image folder in the archive or directory at p and
// checks its images as opt.BadImages says. A zip or tar.gz whose images
// declare more than 16 times its size plus 16 MiB (real PNG and JPEG files
// barely compress; zeros behind image headers do) is refused from the
// declared sizes, before any image is read.
func OpenFolder(p string, opt FolderOptions) (*Folder, error) {
	depth := opt.ClassDepth
	if depth <= 0 {
		depth = 1
	}
	if opt.Channels == 0 {
		opt.Channels = 3
	}
	prefix := strings.Trim(opt.Sub, "/")
	if prefix != "" {
		prefix += "/"
	}
	type item struct {
		class, dir, file string
		data             []byte
	}
	var items []item
	keep := func(name string) bool {
		if !strings.HasPrefix(name, prefix) || !isImageName(name) {
			return false
		}
		rest := strings.Split(name[len(prefix):], "/")
		return len(rest) > depth // at least class components + file
	}
	err := walkArchive(p, maxImageExpansion, keep, func(name string, b []byte) error {
		rest := name[len(prefix):]
		parts := strings.Split(rest, "/")
		class := strings.Join(parts[:depth], "/")
		dir, file := path.Split(rest)
		if opt.BadImages != BadImagesSkip {
			// A bad header ends the walk at once, before the rest of a
			// large archive is read and held.
			if _, _, err := imageHeader(b, p+":"+name); err != nil {
				return err
			}
		}
		items = append(items, item{class: class, dir: dir, file: file, data: b})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, formatErr(p, "no class folders with images under %q", opt.Sub)
	}
	// Class order compares the class path component by component, as nested
	// sorted listings do; files within a class by (folder, name), as
	// torchvision's sorted(os.walk) then sorted(fnames) does.
	less := func(a, b string) bool {
		pa, pb := strings.Split(a, "/"), strings.Split(b, "/")
		for i := 0; i < len(pa) && i < len(pb); i++ {
			if pa[i] != pb[i] {
				return pa[i] < pb[i]
			}
		}
		return len(pa) < len(pb)
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.class != b.class {
			return less(a.class, b.class)
		}
		if a.dir != b.dir {
			return a.dir < b.dir
		}
		return a.file < b.file
	})
	f := &Folder{Name: p, channels: opt.Channels}
	for _, it := range items {
		if len(f.Classes) == 0 || f.Classes[len(f.Classes)-1] != it.class {
			f.Classes = append(f.Classes, it.class)
		}
		f.labels = append(f.labels, len(f.Classes)-1)
		f.Files = append(f.Files, prefix+it.dir+it.file)
		f.blobs = append(f.blobs, it.data)
	}
	if err := f.check(opt); err != nil {
		return nil, err
	}
	return f, nil
}

// check applies the bad-image policy: every image's header (BadImagesFail)
// or whole decode (the others) is checked, in parallel; the first failure
// in dataset order is the error, or with BadImagesSkip every failing image
// is left out. It sets the shape from the first image kept.
func (f *Folder) check(opt FolderOptions) error {
	n := len(f.blobs)
	errs := make([]error, n)
	dims := make([][2]int, n)
	parallel.For(n, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if opt.BadImages == BadImagesFail {
				dims[i][0], dims[i][1], errs[i] = imageHeader(f.blobs[i], f.ItemName(i))
				continue
			}
			im, err := DecodeImage(f.blobs[i], f.ItemName(i), f.channels)
			if err != nil {
				errs[i] = err
				continue
			}
			dims[i] = [2]int{im.W, im.H}
		}
	})
	first := -1
	if opt.BadImages != BadImagesSkip {
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		first = 0
	} else {
		keep := 0
		for i := range f.blobs {
			if errs[i] != nil {
				f.Skipped = append(f.Skipped, errs[i])
				continue
			}
			if first < 0 {
				first = keep
			}
			f.blobs[keep], f.Files[keep], f.labels[keep], dims[keep] = f.blobs[i], f.Files[i], f.labels[i], dims[i]
			keep++
		}
		f.blobs, f.Files, f.labels = f.blobs[:keep:keep], f.Files[:keep:keep], f.labels[:keep:keep]
		if len(f.Skipped) > 0 {
			w := opt.Log
			if w == nil {
				w = os.Stderr
			}
			fmt.Fprintln(w, skipWarning(f.Name, f.Skipped, n))
		}
		if keep == 0 {
			return formatErr(f.Name, "none of its %d images decodes (first: %v)", n, f.Skipped[0])
		}
	}
	f.c, f.w, f.h = f.channels, dims[first][0], dims[first][1]
	return nil
}

// skipWarning is the one line BadImagesSkip prints: how many images of the
// archive were left out and the first few, with why.
func skipWarning(archive string, skipped []error, total int) string {
	return fmt.Sprintf("data: warning: %s: skipped %d of %d images that do not decode: %s",
		archive, len(skipped), total, badList(archive, skipped))
}

// badList names the first maxSkipNames bad images of archive, each with its
// problem, and how many more there are.
func badList(archive string, bad []error) string {
	var b strings.Builder
	for i, err := range bad {
		if i == maxSkipNames {
			fmt.Fprintf(&b, " and %d more", len(bad)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		var fe *FormatError
		if errors.As(err, &fe) {
			// The member name and problem without the repeated "data: archive:".
			fmt.Fprintf(&b, "%s (%s)", strings.TrimPrefix(fe.File, archive+":"), strings.TrimPrefix(err.Error(), "data: "+fe.File+": "))
		} else {
			b.WriteString(err.Error())
		}
	}
	return b.String()
}

// imageHeader reads the width and height of a PNG or JPEG without decoding
// its pixels, failing as DecodeImage would on the same header (keep the two
// checks alike).
func imageHeader(b []byte, name string) (w, h int, err error) {
	var cfg image.Config
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		cfg, err = png.DecodeConfig(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(b))
	default:
		return 0, 0, formatErr(name, "not a PNG or JPEG image")
	}
	if err != nil {
		return 0, 0, wrapErr(name, "corrupt image header", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > int64(MaxImagePixels) {
		return 0, 0, formatErr(name, "image size %dx%d is empty or over the %d-pixel limit", cfg.Width, cfg.Height, MaxImagePixels)
	}
	return cfg.Width, cfg.Height, nil
}

// Len returns the number of images.
func (f *Folder) Len() int { return len(f.labels) }

// Label returns image i's class index.
func (f *Folder) Label(i int) int { return f.labels[i] }

// Shape returns the shape of the first image.
func (f *Folder) Shape() (int, int, int) { return f.c, f.h, f.w }

// Image decodes image i.
func (f *Folder) Image(i int) (*Image, error) {
	if i < 0 || i >= len(f.blobs) {
		return nil, fmt.Errorf("data: %s: index %d out of range [0,%d)", f.Name, i, len(f.blobs))
	}
	return DecodeImage(f.blobs[i], f.ItemName(i), f.channels)
}

// ItemName returns "archive:member" of image i, the name its errors carry;
// the loader names failing items with it.
func (f *Folder) ItemName(i int) string {
	if i < 0 || i >= len(f.Files) {
		return ""
	}
	return f.Name + ":" + f.Files[i]
}

// Bytes returns the encoded bytes of image i (shared; do not modify).
func (f *Folder) Bytes(i int) []byte { return f.blobs[i] }
