package data

import (
	"fmt"
	"path"
	"sort"
	"strings"
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
	Files    []string
	labels   []int
	blobs    [][]byte
	channels int
	c, h, w  int
}

// OpenFolder reads the image folder in the archive or directory at p.
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
	err := WalkArchive(p, keep, func(name string, b []byte) error {
		rest := name[len(prefix):]
		parts := strings.Split(rest, "/")
		class := strings.Join(parts[:depth], "/")
		dir, file := path.Split(rest)
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
	first, err := f.Image(0)
	if err != nil {
		return nil, err
	}
	f.c, f.h, f.w = first.C, first.H, first.W
	return f, nil
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
	return DecodeImage(f.blobs[i], f.Name+":"+f.Files[i], f.channels)
}

// Bytes returns the encoded bytes of image i (shared; do not modify).
func (f *Folder) Bytes(i int) []byte { return f.blobs[i] }
