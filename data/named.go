package data

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/vmdls-go/vmdls/parallel"
)

// Split selects a dataset's training or test part.
type Split int

// The splits. For the OOD-only sets (omniglot, noise, the ODIN folders)
// Train and Test follow the reference: omniglot Train is the background set,
// Test the evaluation set; the others ignore the split (noise has 50,000
// training and 10,000 test images, as in the reference).
const (
	Train Split = iota
	Test
)

// String returns "train" or "test", the split's folder name in the
// JPEG copy of CIFAR-10.
func (s Split) String() string {
	if s == Train {
		return "train"
	}
	return "test"
}

// Options say where datasets live and how to open them.
type Options struct {
	// Dir is the data directory (--data_dir). Empty means DefaultDir().
	Dir string
	// ClassNum is --class_num: the known classes are labels < ClassNum.
	// 0 means 10.
	ClassNum int
	// Download fetches missing files from their canonical URLs.
	Download bool
	// Client is used for downloads (nil: a client with timeouts, see
	// Fetcher).
	Client *http.Client
	// Log receives download progress lines and the warning about images
	// BadImagesSkip leaves out (nil: no progress, the warning to os.Stderr).
	Log io.Writer
	// Seed fixes the noise set's images.
	Seed uint64
	// BadImages is the policy for images of folder datasets (the CIFAR-10
	// JPEG copy, the ODIN sets, unpacked or zipped Omniglot) that do not
	// decode; the zero value, BadImagesFail, checks every header at open.
	BadImages BadImages
}

// DefaultDir returns $VMDLS_DATA, or "./data" when it is unset. The
// reference's --data_dir defaults to "." (models/vae.py), the current
// directory; ours keeps the datasets in a folder of their own, and the
// reference's command lines, which pass --data_dir, mean the same here.
func DefaultDir() string {
	if d := os.Getenv("VMDLS_DATA"); d != "" {
		return d
	}
	return "data"
}

// Names lists the dataset names Open accepts: the reference's
// --known_dataset/--unknown_dataset values plus cifar10 (all ten classes).
// Open also takes omniglot_background and omniglot_evaluation, which pick
// the Omniglot set whatever the split.
var Names = []string{"mnist", "kmnist", "fashion_mnist", "omniglot", "mnist_noise", "noise",
	"cifar10", "cifar_known", "cifar_unknown", "cifar100_known", "cifar100_unknown",
	"imagenet-crop", "imagenet-resize", "lsun-crop", "lsun-resize"}

// KnownSet describes a named dataset with class labels, one usable as the
// known set (--known_dataset), without opening it: the checks of a run's
// settings compare its classes and image shape with the encoder's before
// any file is read.
type KnownSet struct {
	// Name is the dataset's name, as Open takes it.
	Name string
	// Classes is the number of class labels in the dataset.
	Classes int
	// Channels, Height and Width are the shape of one image.
	Channels, Height, Width int
}

// knownSets are the named datasets with class labels; the other names are
// unknown-only sets.
var knownSets = []KnownSet{
	{"mnist", 10, 1, 28, 28},
	{"kmnist", 10, 1, 28, 28},
	{"fashion_mnist", 10, 1, 28, 28},
	{"mnist_noise", 10, 1, 28, 28},
	{"cifar10", 10, 3, 32, 32},
	{"cifar_known", 10, 3, 32, 32},
	{"cifar100_known", 100, 3, 32, 32},
}

// KnownSets lists the named datasets usable as the known set, in name order.
func KnownSets() []KnownSet {
	out := slices.Clone(knownSets)
	slices.SortFunc(out, func(a, b KnownSet) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// LookupKnown returns the description of the known set name; ok is false
// for a name that is not one (an unknown-only set or no dataset at all).
func LookupKnown(name string) (set KnownSet, ok bool) {
	for _, k := range knownSets {
		if k.Name == name {
			return k, true
		}
	}
	return KnownSet{}, false
}

// CIFAR10Classes are CIFAR-10's label names in label order.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// Set is an opened named dataset.
type Set struct {
	Name  string
	Split Split
	Dataset
	// Classes names the labels, when known.
	Classes []string
	// Post are tensor transforms the dataset applies after the pipeline
	// (mnist_noise's noise); use Pipeline.Then(set.Post...).
	Post []TensorTransform
	// Source says which files the images came from.
	Source string
	// Files are the paths of the files (or folders) the split was read from.
	Files []string
	// Skipped are the images BadImagesSkip left out, each an error naming
	// the archive member and the problem.
	Skipped []error
}

// Open opens a named dataset's split. Labels are the dataset's own; use
// OpenUnknown (or AsUnknown) for a set used as the unknown (OOD) set.
//
// Where it looks, under opt.Dir (the first match wins):
//
//	mnist, mnist_noise   mnist/{train,t10k}-*-ubyte[.gz], or torchvision's MNIST/raw/
//	kmnist               kmnist/ or KMNIST/raw/
//	fashion_mnist        fashion_mnist/ or FashionMNIST/raw/
//	omniglot             omniglot/images_{background,evaluation}.npz, then .zip
//	                     (also under omniglot-py/), or the unpacked folder
//	cifar10, cifar_*     cifar10/cifar-10-binary.tar.gz (or its unpacked
//	                     cifar-10-batches-bin/), else cifar10-jpeg/{train,test}.tar
//	cifar100_*           cifar100/cifar-100-binary.tar.gz or cifar-100-binary/
//	imagenet-*, lsun-*   openset/<Imagenet|Imagenet_resize|LSUN|LSUN_resize>/
//	                     (unpacked), or openset/<name>.tar.gz read in place
//
// A missing dataset is a *MissingError naming the file, the URL and the
// folder, unless opt.Download fetches it first.
func Open(name string, split Split, opt Options) (*Set, error) {
	if opt.Dir == "" {
		opt.Dir = DefaultDir()
	}
	if opt.ClassNum == 0 {
		opt.ClassNum = 10
	}
	set, err := openNamed(name, split, opt)
	if errors.Is(err, errNotFound) && opt.Download {
		f := &Fetcher{Client: opt.Client, Log: opt.Log}
		if ferr := f.Fetch(context.Background(), opt.Dir, name); ferr != nil {
			return nil, ferr
		}
		set, err = openNamed(name, split, opt)
	}
	var nf *notFoundError
	if errors.As(err, &nf) {
		if me, ok := missingFor(name, opt.Dir, nf.file); ok {
			return nil, me
		}
	}
	return set, err
}

// notFoundError tells Open that none of a split's candidate locations
// exists; file is the Remote file name the split needs first, which the
// MissingError then names.
type notFoundError struct{ file string }

func (e *notFoundError) Error() string { return e.file + " not found" }

// Is makes a notFoundError match errNotFound.
func (e *notFoundError) Is(target error) bool { return target == errNotFound }

// OpenUnknown opens a named dataset as the unknown set: every label becomes
// opt.ClassNum, as the reference's KnownUnknownDataset does.
func OpenUnknown(name string, split Split, opt Options) (*Set, error) {
	s, err := Open(name, split, opt)
	if err != nil {
		return nil, err
	}
	cn := opt.ClassNum
	if cn == 0 {
		cn = 10
	}
	s.Dataset = AsUnknown(s.Dataset, cn)
	return s, nil
}

// Locate returns the files Open reads for split of dataset name under
// opt.Dir, found by the same search as Open's but without reading them, so
// that a command can say what is missing before it creates anything. A
// generated set (noise) needs none. A missing file is the *MissingError
// Open returns, naming the file, the URL and the folder; Locate never
// downloads (opt.Download is ignored) and checks neither sums nor
// contents (VerifyDataset does).
func Locate(name string, split Split, opt Options) ([]string, error) {
	if opt.Dir == "" {
		opt.Dir = DefaultDir()
	}
	files, err := locateNamed(name, split, opt.Dir)
	var nf *notFoundError
	if errors.As(err, &nf) {
		if me, ok := missingFor(name, opt.Dir, nf.file); ok {
			return nil, me
		}
	}
	return files, err
}

// locateNamed is openNamed's search for its files, without reading them.
func locateNamed(name string, split Split, dir string) ([]string, error) {
	switch name {
	case "mnist", "kmnist", "fashion_mnist", "mnist_noise":
		ip, lp, err := locateIDXPair(dir, remoteKey(name), split)
		if err != nil {
			return nil, err
		}
		return []string{ip, lp}, nil
	case "omniglot", "omniglot_background", "omniglot_evaluation":
		p, _, err := locateOmniglot(dir, omniglotSub(name, split))
		return orNone(p, err)
	case "noise":
		return nil, nil
	case "cifar10", "cifar_known", "cifar_unknown":
		p, _, err := locateCIFAR10(dir, split)
		return orNone(p, err)
	case "cifar100_known", "cifar100_unknown":
		return orNone(locateCIFAR100(dir))
	case "imagenet-crop", "imagenet-resize", "lsun-crop", "lsun-resize":
		p, _, err := locateODIN(dir, name)
		return orNone(p, err)
	}
	return nil, unknownDatasetError(name)
}

// orNone turns a located path and its error into Locate's list.
func orNone(p string, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	return []string{p}, nil
}

// omniglotSub is the Omniglot set a split of name reads: the background
// set for training (and for omniglot_background), the evaluation set
// otherwise, as the reference's Omniglot OOD set is.
func omniglotSub(name string, split Split) string {
	switch {
	case name == "omniglot_evaluation":
		return "images_evaluation"
	case split == Train || name == "omniglot_background":
		return "images_background"
	}
	return "images_evaluation"
}

// unknownDatasetError is the error for a name no opener knows.
func unknownDatasetError(name string) error {
	return fmt.Errorf("data: unknown dataset %q (known: %s)", name, strings.Join(Names, ", "))
}

func openNamed(name string, split Split, opt Options) (*Set, error) {
	s := &Set{Name: name, Split: split}
	var err error
	fo := FolderOptions{BadImages: opt.BadImages, Log: opt.Log}
	switch name {
	case "mnist", "kmnist", "fashion_mnist", "mnist_noise":
		key := remoteKey(name)
		s.Dataset, s.Files, err = openIDXPair(opt.Dir, key, split)
		if name == "mnist_noise" {
			s.Post = []TensorTransform{UniformNoise{Lo: 0, Hi: 1}}
		}
	case "omniglot", "omniglot_background", "omniglot_evaluation":
		s.Dataset, s.Files, s.Skipped, err = openOmniglotOOD(opt.Dir, omniglotSub(name, split), 10000, fo)
	case "noise":
		n := 10000
		if split == Train {
			n = 50000
		}
		s.Dataset, s.Source = &Noise{N: n, C: 1, H: 28, W: 28, Seed: opt.Seed, LabelValue: opt.ClassNum}, "generated"
	case "cifar10", "cifar_known", "cifar_unknown":
		var ds Dataset
		ds, s.Files, s.Skipped, err = openCIFAR10(opt.Dir, split, fo)
		s.Classes = CIFAR10Classes
		s.Dataset = selectKnown(ds, name, opt.ClassNum)
	case "cifar100_known", "cifar100_unknown":
		var ds Dataset
		ds, s.Files, err = openCIFAR100(opt.Dir, split)
		s.Dataset = selectKnown(ds, name, opt.ClassNum)
	case "imagenet-crop", "imagenet-resize", "lsun-crop", "lsun-resize":
		s.Dataset, s.Files, s.Skipped, err = openODIN(opt.Dir, name, fo)
	default:
		return nil, unknownDatasetError(name)
	}
	if err != nil {
		return nil, err
	}
	if s.Source == "" {
		s.Source = strings.Join(s.Files, ", ")
	}
	return s, nil
}

// selectKnown keeps labels < classNum for *_known, >= classNum for *_unknown.
func selectKnown(ds Dataset, name string, classNum int) Dataset {
	if ds == nil {
		return nil
	}
	switch {
	case strings.HasSuffix(name, "_known"):
		return FilterLabels(ds, func(l int) bool { return l < classNum })
	case strings.HasSuffix(name, "_unknown"):
		return FilterLabels(ds, func(l int) bool { return l >= classNum })
	}
	return ds
}

// firstExisting returns the first candidate path that exists.
func firstExisting(paths ...string) (string, bool) {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// torchFolders maps our folder names to torchvision's.
var torchFolders = map[string]string{"mnist": "MNIST", "kmnist": "KMNIST", "fashion_mnist": "FashionMNIST"}

// openIDXPair opens the images and labels of an MNIST-style dataset from
// dir/<key>/ or torchvision's dir/<Name>/raw/, gzipped or not, and returns
// the two paths.
func openIDXPair(dir, key string, split Split) (*Memory, []string, error) {
	ip, lp, err := locateIDXPair(dir, key, split)
	if err != nil {
		return nil, nil, err
	}
	m, _, err := readIDXDataset(ip, lp, idxSplitImages[split], key+" "+split.String())
	return m, []string{ip, lp}, err
}

// locateIDXPair finds the images and labels files openIDXPair reads.
func locateIDXPair(dir, key string, split Split) (images, labels string, err error) {
	prefix := "train"
	if split == Test {
		prefix = "t10k"
	}
	find := func(base string) (string, bool) {
		var c []string
		for _, d := range []string{filepath.Join(dir, key), filepath.Join(dir, torchFolders[key], "raw")} {
			c = append(c, filepath.Join(d, base+".gz"), filepath.Join(d, base))
		}
		return firstExisting(c...)
	}
	ip, ok := find(prefix + "-images-idx3-ubyte")
	if !ok {
		return "", "", &notFoundError{prefix + "-images-idx3-ubyte.gz"}
	}
	lp, ok := find(prefix + "-labels-idx1-ubyte")
	if !ok {
		return "", "", &notFoundError{prefix + "-labels-idx1-ubyte.gz"}
	}
	return ip, lp, nil
}

// idxSplitImages is how many images each split of MNIST, KMNIST and
// Fashion-MNIST holds (all three: 28x28 images).
var idxSplitImages = map[Split]int{Train: 60000, Test: 10000}

// ReadIDXDataset reads an IDX image file (N x H x W uint8) and its label
// file (N uint8) into a Memory dataset.
func ReadIDXDataset(imagesPath, labelsPath string) (*Memory, string, error) {
	return readIDXDataset(imagesPath, labelsPath, 0, "")
}

// readIDXDataset is ReadIDXDataset for a dataset of at most maxImages
// images of at most 28x28 (maxImages 0: no such bound; what names the
// dataset in the error). The bound is checked on the headers, before any
// payload is read: a gzipped image file of 1 MB can hold a true 1 GiB of
// zeros, which is no MNIST.
func readIDXDataset(imagesPath, labelsPath string, maxImages int, what string) (*Memory, string, error) {
	// The headers are compared before either payload is read, so a file
	// that declares far more than its partner costs nothing.
	im, err := ReadIDXFileHeader(imagesPath)
	if err != nil {
		return nil, "", err
	}
	lb, err := ReadIDXFileHeader(labelsPath)
	if err != nil {
		return nil, "", err
	}
	if im.Type != 0x08 || len(im.Dims) != 3 {
		return nil, "", formatErr(imagesPath, "want a uint8 N x H x W image array, have type %#x dims %v", im.Type, im.Dims)
	}
	if lb.Type != 0x08 || len(lb.Dims) != 1 {
		return nil, "", formatErr(labelsPath, "want a uint8 label vector, have type %#x dims %v", lb.Type, lb.Dims)
	}
	if maxImages > 0 && (im.Dims[0] > maxImages || im.Dims[1] > 28 || im.Dims[2] > 28) {
		return nil, "", formatErr(imagesPath, "%d images of %dx%d: %s holds at most %d images of 28x28", im.Dims[0], im.Dims[2], im.Dims[1], what, maxImages)
	}
	if lb.Dims[0] != im.Dims[0] {
		return nil, "", formatErr(labelsPath, "%d labels for %d images in %s", lb.Dims[0], im.Dims[0], imagesPath)
	}
	if im, err = ReadIDXFile(imagesPath); err != nil {
		return nil, "", err
	}
	if lb, err = ReadIDXFile(labelsPath); err != nil {
		return nil, "", err
	}
	labels := make([]int, len(lb.Data))
	for i, v := range lb.Data {
		labels[i] = int(v)
	}
	return &Memory{C: 1, H: im.Dims[1], W: im.Dims[2], Pix: im.Data, Labels: labels}, imagesPath + ", " + labelsPath, nil
}

// openOmniglotOOD returns the first limit images of an Omniglot set, as
// the reference's OmniglotWrapper makes them: loaded as PIL "L", inverted
// (white strokes on black), resized to 28x28 with PIL's bilinear filter.
// Labels are the character indices. It reads the npz conversion, the
// original zip, or the unpacked folder (the last two under fo's bad-image
// policy).
func openOmniglotOOD(dir, sub string, limit int, fo FolderOptions) (*Memory, []string, []error, error) {
	p, isNPZ, err := locateOmniglot(dir, sub)
	if err != nil {
		return nil, nil, nil, err
	}
	var raw []*Image
	var labels []int
	var skipped []error
	if isNPZ {
		raw, labels, _, err = ReadOmniglotNPZ(p, limit)
		if err != nil {
			return nil, nil, nil, err
		}
	} else {
		f, err := openOmniglot(p, sub, fo)
		if err != nil {
			return nil, nil, nil, err
		}
		skipped = f.Skipped
		n := min(limit, f.Len())
		raw = make([]*Image, n)
		labels = make([]int, n)
		errs := make([]error, n)
		parallel.For(n, 64, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				raw[i], errs[i] = f.Image(i)
			}
		})
		if err := errors.Join(errs...); err != nil {
			return nil, nil, nil, err
		}
		for i := range labels {
			labels[i] = f.Label(i)
		}
	}
	m := &Memory{C: 1, H: 28, W: 28, Pix: make([]uint8, len(raw)*28*28), Labels: labels}
	parallel.For(len(raw), 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			copy(m.Pix[i*784:(i+1)*784], Resize(Invert(raw[i]), 28, 28).Pix)
		}
	})
	return m, []string{p}, skipped, nil
}

// locateOmniglot finds what openOmniglotOOD reads of set sub: the npz
// conversion if there is one (isNPZ), else the original zip or its
// unpacked folder.
func locateOmniglot(dir, sub string) (p string, isNPZ bool, err error) {
	if p, ok := firstExisting(filepath.Join(dir, "omniglot", sub+".npz"), filepath.Join(dir, "omniglot-py", sub+".npz")); ok {
		return p, true, nil
	}
	p, ok := firstExisting(filepath.Join(dir, "omniglot", sub+".zip"), filepath.Join(dir, "omniglot-py", sub+".zip"),
		filepath.Join(dir, "omniglot-py", sub), filepath.Join(dir, "omniglot", sub))
	if !ok {
		return "", false, &notFoundError{sub + ".zip"}
	}
	return p, false, nil
}

// OpenOmniglot reads an original Omniglot set (images_background.zip or
// images_evaluation.zip, or the folder they unpack to) as torchvision's
// Omniglot dataset does: PNGs loaded as "L", one class per
// alphabet/character, in sorted order (torchvision lists folders in
// filesystem order; sorted is the reproducible order and the npz's).
func OpenOmniglot(p, sub string) (*Folder, error) {
	return openOmniglot(p, sub, FolderOptions{})
}

// openOmniglot is OpenOmniglot under fo's bad-image policy.
func openOmniglot(p, sub string, fo FolderOptions) (*Folder, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	fo.Sub, fo.Channels, fo.ClassDepth = sub, 1, 2
	if st.IsDir() && filepath.Base(p) == sub {
		fo.Sub = ""
	}
	return OpenFolder(p, fo)
}

// ReadOmniglotNPZ reads the first limit images (limit <= 0: all) of the
// Omniglot npz conversion (images.npy: bool C x 20 x 105 x 105, non-zero =
// white; labels.npy: int64 C x 20) in C order, which is the original
// character-then-drawer order. It returns the images as PIL "L" would load
// the PNGs (0 or 255), their labels, and the total number of images.
func ReadOmniglotNPZ(path string, limit int) ([]*Image, []int, int, error) {
	z, err := OpenNPZ(path)
	if err != nil {
		return nil, nil, 0, err
	}
	defer z.Close()
	// Both headers are checked against each other before the labels are
	// read: labels declaring far more than the images cost nothing.
	h, err := z.Header("images")
	if err != nil {
		return nil, nil, 0, err
	}
	if len(h.Shape) != 4 || h.ElemSize() != 1 || h.Shape[2] != 105 || h.Shape[3] != 105 {
		return nil, nil, 0, formatErr(path+":images.npy", "want a 1-byte C x 20 x 105 x 105 array, have %s %v", h.Descr, h.Shape)
	}
	total := h.Shape[0] * h.Shape[1]
	lh, err := z.Header("labels")
	if err != nil {
		return nil, nil, 0, err
	}
	if len(lh.Shape) != 2 || lh.Shape[0]*lh.Shape[1] != total {
		return nil, nil, 0, formatErr(path+":labels.npy", "shape %v does not match images %v", lh.Shape, h.Shape)
	}
	lab, err := z.Read("labels")
	if err != nil {
		return nil, nil, 0, err
	}
	lv, err := lab.Int64s()
	if err != nil {
		return nil, nil, 0, wrapErr(path+":labels.npy", "bad labels", err)
	}
	_, rc, err := z.Open("images")
	if err != nil {
		return nil, nil, 0, err
	}
	defer rc.Close()
	n := total
	if limit > 0 {
		n = min(limit, total)
	}
	br := bufio.NewReaderSize(rc, 1<<16)
	imgs := make([]*Image, n)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		im := NewImage(1, 105, 105)
		if _, err := io.ReadFull(br, im.Pix); err != nil {
			return nil, nil, 0, wrapErr(path+":images.npy", fmt.Sprintf("reading image %d", i), err)
		}
		for k, v := range im.Pix {
			if v != 0 {
				im.Pix[k] = 255
			}
		}
		imgs[i] = im
		labels[i] = int(lv[i])
	}
	return imgs, labels, total, nil
}

// openCIFAR10 prefers the original binary batches and falls back to the
// JPEG tars of ../shared/data/cifar10-jpeg (read under fo's bad-image
// policy).
func openCIFAR10(dir string, split Split, fo FolderOptions) (Dataset, []string, []error, error) {
	p, binary, err := locateCIFAR10(dir, split)
	if err != nil {
		return nil, nil, nil, err
	}
	if binary {
		m, err := ReadCIFARArchive(p, false, split)
		return m, []string{p}, nil, err
	}
	fo.Sub, fo.Channels = split.String(), 3
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		fo.Sub = ""
	}
	f, err := OpenFolder(p, fo)
	if err != nil {
		return nil, nil, nil, err
	}
	if strings.Join(f.Classes, ",") != strings.Join(CIFAR10Classes, ",") {
		return nil, nil, nil, formatErr(p, "class folders %v are not CIFAR-10's %v", f.Classes, CIFAR10Classes)
	}
	return f, []string{p}, f.Skipped, nil
}

// locateCIFAR10 finds what openCIFAR10 reads of split: the binary
// distribution (binary), packed or unpacked, else the JPEG folder's tar
// or folder of the split.
func locateCIFAR10(dir string, split Split) (p string, binary bool, err error) {
	if p, ok := firstExisting(filepath.Join(dir, "cifar10", "cifar-10-binary.tar.gz"), filepath.Join(dir, "cifar-10-binary.tar.gz"),
		filepath.Join(dir, "cifar-10-batches-bin"), filepath.Join(dir, "cifar10", "cifar-10-batches-bin")); ok {
		return p, true, nil
	}
	p, ok := firstExisting(filepath.Join(dir, "cifar10-jpeg", split.String()+".tar"), filepath.Join(dir, "cifar10-jpeg", split.String()))
	if !ok {
		return "", false, &notFoundError{"cifar-10-binary.tar.gz"}
	}
	return p, false, nil
}

func openCIFAR100(dir string, split Split) (Dataset, []string, error) {
	p, err := locateCIFAR100(dir)
	if err != nil {
		return nil, nil, err
	}
	m, err := ReadCIFARArchive(p, true, split)
	return m, []string{p}, err
}

// locateCIFAR100 finds the binary distribution openCIFAR100 reads.
func locateCIFAR100(dir string) (string, error) {
	p, ok := firstExisting(filepath.Join(dir, "cifar100", "cifar-100-binary.tar.gz"), filepath.Join(dir, "cifar-100-binary.tar.gz"),
		filepath.Join(dir, "cifar-100-binary"), filepath.Join(dir, "cifar100", "cifar-100-binary"))
	if !ok {
		return "", &notFoundError{"cifar-100-binary.tar.gz"}
	}
	return p, nil
}

// ReadCIFARArchive reads the binary batches of a split from the CIFAR
// binary distribution (the .tar.gz, or the folder it unpacks to): CIFAR-10
// data_batch_1..5.bin or test_batch.bin; CIFAR-100 train.bin or test.bin
// (fine labels, coarse kept in the returned batch).
func ReadCIFARArchive(p string, cifar100 bool, split Split) (*Memory, error) {
	want := func(base string) bool {
		if cifar100 {
			return base == split.String()+".bin"
		}
		if split == Test {
			return base == "test_batch.bin"
		}
		return strings.HasPrefix(base, "data_batch_") && strings.HasSuffix(base, ".bin")
	}
	files := map[string][]byte{}
	err := WalkArchive(p, func(n string) bool { return want(filepath.Base(n)) }, func(n string, b []byte) error {
		files[n] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, formatErr(p, "no CIFAR %s batches found", split)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	batch := &CIFARBatch{}
	for _, n := range names {
		if _, err := ReadCIFARBatch(bytes.NewReader(files[n]), p+":"+n, cifar100, batch); err != nil {
			return nil, err
		}
	}
	return &Memory{C: 3, H: 32, W: 32, Pix: batch.Pix, Labels: batch.Labels}, nil
}

// odinFolders are the folder names inside the ODIN tarballs.
var odinFolders = map[string]string{"imagenet-crop": "Imagenet", "imagenet-resize": "Imagenet_resize", "lsun-crop": "LSUN", "lsun-resize": "LSUN_resize"}

// openODIN reads an ODIN OOD set as the reference's ImageFolder does (RGB,
// class folders under the set's folder) from dir/openset/<Folder>, or
// straight from its tarball, under fo's bad-image policy.
func openODIN(dir, name string, fo FolderOptions) (Dataset, []string, []error, error) {
	p, tarball, err := locateODIN(dir, name)
	if err != nil {
		return nil, nil, nil, err
	}
	fo.Channels = 3
	if tarball {
		fo.Sub = odinFolders[name]
	}
	f, err := OpenFolder(p, fo)
	if err != nil {
		return nil, nil, nil, err
	}
	return f, []string{p}, f.Skipped, nil
}

// locateODIN finds what openODIN reads: the set's unpacked folder, else
// its tarball (tarball), whose members sit under the folder's name.
func locateODIN(dir, name string) (p string, tarball bool, err error) {
	folder := odinFolders[name]
	if p, ok := firstExisting(filepath.Join(dir, "openset", folder), filepath.Join(dir, folder)); ok {
		return p, false, nil
	}
	p, ok := firstExisting(filepath.Join(dir, "openset", folder+".tar.gz"), filepath.Join(dir, folder+".tar.gz"))
	if !ok {
		return "", false, &notFoundError{folder + ".tar.gz"}
	}
	return p, true, nil
}

// Verification is what VerifyDataset checked of one split.
type Verification struct {
	Name  string
	Split Split
	// Items counts the split's images, or for an Omniglot npz all those it
	// holds (the OOD set keeps 10,000 of the evaluation set's 13,180).
	// Every image of the files read was decoded.
	Items int
	// Files are the files the split is read from, with the sums checked.
	Files []FileCheck
}

// FileCheck is one file VerifyDataset read.
type FileCheck struct {
	Path string
	// Sums lists the known values the file matched ("size, md5, sha256");
	// empty when none is known for it (an unpacked or uncompressed copy).
	Sums string
}

// VerifyDataset checks the files the loader reads for both splits of
// dataset name (a name Open takes, or cifar100) under opt.Dir, without
// downloading: each file's size and sums where Remotes or KnownFiles know
// them, then a full decode of every image and array, with compressed
// streams and zip members read to their end so that their CRCs are
// checked. A file that fails is an error naming it: a *ChecksumError, a
// *MissingError, or a *FormatError (for a folder dataset, naming its bad
// images, which are all decoded whatever opt.BadImages).
func VerifyDataset(name string, opt Options) ([]Verification, error) {
	if opt.Dir == "" {
		opt.Dir = DefaultDir()
	}
	if opt.ClassNum == 0 {
		opt.ClassNum = 10
	}
	openName := name
	if name == "cifar100" {
		// All 100 classes: the files are those of cifar100_known.
		openName, opt.ClassNum = "cifar100_known", 100
	}
	opt.Download = false
	opt.BadImages, opt.Log = BadImagesSkip, io.Discard
	var out []Verification
	for _, split := range []Split{Train, Test} {
		set, err := openNamed(openName, split, opt)
		var nf *notFoundError
		if errors.As(err, &nf) {
			if me, ok := missingFor(name, opt.Dir, nf.file); ok {
				return out, me
			}
		}
		if err != nil {
			// A file that is not the published one is the cause to report,
			// rather than the decoding trouble it led to.
			var fe *FormatError
			if errors.As(err, &fe) {
				p := fe.File
				if _, err := os.Stat(p); err != nil {
					// "archive:member": the archive is the file.
					if i := strings.LastIndex(p, ":"); i > 0 {
						p = p[:i]
					}
				}
				if rf, ok := knownFile(name, p); ok {
					if serr := checkSums(p, rf); serr != nil {
						return out, serr
					}
				}
			}
			return out, err
		}
		v := Verification{Name: name, Split: split, Items: set.Len()}
		if len(set.Skipped) > 0 {
			archive := set.Files[0]
			return out, formatErr(archive, "%d of %d images do not decode: %s", len(set.Skipped), set.Len()+len(set.Skipped), badList(archive, set.Skipped))
		}
		for _, p := range set.Files {
			fc := FileCheck{Path: p}
			if rf, ok := knownFile(name, p); ok {
				if err := checkSums(p, rf); err != nil {
					return out, err
				}
				fc.Sums = sumNames(rf)
			}
			if err := readToEnd(p); err != nil {
				return out, err
			}
			if strings.HasSuffix(p, ".npz") {
				// The OOD set reads only the first images; decode them all.
				_, _, total, err := ReadOmniglotNPZ(p, 0)
				if err != nil {
					return out, err
				}
				v.Items = total
			}
			v.Files = append(v.Files, fc)
		}
		out = append(out, v)
	}
	return out, nil
}

// knownFile returns the known size and sums of file p of dataset name: a
// Remote file of the same name, or a KnownFiles entry.
func knownFile(name, p string) (RemoteFile, bool) {
	base := filepath.Base(p)
	if r, ok := RemoteFor(name); ok {
		for _, rf := range r.Files {
			if rf.Name == base {
				return rf, rf.MD5 != "" || rf.SHA256 != "" || rf.Size > 0
			}
		}
	}
	rf, ok := KnownFiles[base]
	return rf, ok
}

// sumNames lists the checks rf allows.
func sumNames(rf RemoteFile) string {
	var s []string
	if rf.Size > 0 {
		s = append(s, "size")
	}
	if rf.MD5 != "" {
		s = append(s, "md5")
	}
	if rf.SHA256 != "" {
		s = append(s, "sha256")
	}
	return strings.Join(s, ", ")
}

// readToEnd reads a gzip stream or every zip member of p to its end, so
// that the CRCs the readers may stop short of are checked. Directories and
// uncompressed files are left to the readers, which read them whole.
func readToEnd(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	switch {
	case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
		if err != nil {
			return wrapErr(p, "bad gzip header", err)
		}
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return wrapErr(p, "corrupt gzip stream", err)
		}
		return nil
	case n == 4 && string(magic[:]) == "PK\x03\x04":
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return wrapErr(p, "not a readable zip archive", err)
		}
		for _, m := range zr.File {
			rc, err := m.Open()
			if err != nil {
				return wrapErr(p+":"+m.Name, "cannot open zip member", err)
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return wrapErr(p+":"+m.Name, "corrupt zip member", err)
			}
		}
	}
	return nil
}
