package data

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// badFolder writes an image folder with two classes: good images, one
// whose header is garbage (a/bad_header.png) and one whose body is cut
// after a valid header (b/cut_body.png).
func badFolder(t *testing.T, root string, withBadHeader bool) {
	t.Helper()
	cut := noisePNG(t, 24, 24, 9)
	files := map[string][]byte{
		"a/1.png":        noisePNG(t, 16, 16, 1),
		"a/2.png":        noisePNG(t, 16, 16, 2),
		"b/1.png":        noisePNG(t, 16, 16, 3),
		"b/cut_body.png": cut[:len(cut)/2],
		"b/3.png":        noisePNG(t, 16, 16, 4),
	}
	if withBadHeader {
		files["a/bad_header.png"] = []byte("\x89PNG\r\n\x1a\nnot really")
	}
	writeFiles(t, root, files)
}

// TestFolderBadImagesDefault: by default every header is checked at open
// (a bad one fails naming the file); a body corruption the header check
// cannot see fails in the loader, naming the file.
func TestFolderBadImagesDefault(t *testing.T) {
	dir := t.TempDir()
	badFolder(t, dir, true)
	_, err := OpenFolder(dir, FolderOptions{})
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.HasSuffix(fe.File, "a/bad_header.png") {
		t.Fatalf("open with a bad header: %v, want a FormatError naming a/bad_header.png", err)
	}
	// Only image 0 used to be checked: a bad header later in the order was
	// found hours into a run.
	dir = t.TempDir()
	badFolder(t, dir, false)
	f, err := OpenFolder(dir, FolderOptions{})
	if err != nil {
		t.Fatalf("header-only check rejected a folder whose headers are fine: %v", err)
	}
	if c, h, w := f.Shape(); c != 3 || h != 16 || w != 16 || f.Len() != 5 {
		t.Fatalf("shape %d %d %d, %d images", c, h, w, f.Len())
	}
	idx := -1
	for i, n := range f.Files {
		if strings.HasSuffix(n, "cut_body.png") {
			idx = i
		}
	}
	it := NewLoader(f, nil, LoaderOptions{Workers: 2}).Epoch(0, [][]int{{0, 1}, {idx}})
	defer it.Close()
	if _, ok := it.Next(); !ok {
		t.Fatal(it.Err())
	}
	if _, ok := it.Next(); ok {
		t.Fatal("batch with a cut image delivered")
	}
	if err := it.Err(); err == nil || !strings.Contains(err.Error(), filepath.Join(dir)+":b/cut_body.png") {
		t.Fatalf("loader error %v does not name the archive member", err)
	}
}

// TestFolderBadImagesScan: the full scan fails at open on body corruption.
func TestFolderBadImagesScan(t *testing.T) {
	dir := t.TempDir()
	badFolder(t, dir, false)
	_, err := OpenFolder(dir, FolderOptions{BadImages: BadImagesScan})
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.HasSuffix(fe.File, "b/cut_body.png") {
		t.Fatalf("scan: %v, want a FormatError naming b/cut_body.png", err)
	}
}

// TestFolderBadImagesSkip: skip leaves out both bad images with one
// warning, keeps the class labels, and records what it skipped.
func TestFolderBadImagesSkip(t *testing.T) {
	dir := t.TempDir()
	badFolder(t, dir, true)
	// A class whose only image is bad must not shift the next class's label.
	writeFiles(t, dir, map[string][]byte{"aa/only.png": []byte("garbage.png")})
	var log bytes.Buffer
	f, err := OpenFolder(dir, FolderOptions{BadImages: BadImagesSkip, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 4 || len(f.Skipped) != 3 {
		t.Fatalf("%d images kept, %d skipped; want 4 and 3", f.Len(), len(f.Skipped))
	}
	if strings.Join(f.Classes, ",") != "a,aa,b" {
		t.Fatalf("classes %v", f.Classes)
	}
	for i, n := range f.Files {
		want := map[byte]int{'a': 0, 'b': 2}[n[0]]
		if f.Label(i) != want || strings.Contains(n, "bad") || strings.Contains(n, "cut") {
			t.Fatalf("image %s label %d (want %d), or a bad image kept", n, f.Label(i), want)
		}
	}
	w := log.String()
	if strings.Count(w, "\n") != 1 || !strings.Contains(w, "skipped 3 of 7") ||
		!strings.Contains(w, "a/bad_header.png") || !strings.Contains(w, "b/cut_body.png") || !strings.Contains(w, "aa/only.png") {
		t.Fatalf("warning %q", w)
	}
	// Every image left decodes.
	for i := range f.Len() {
		if _, err := f.Image(i); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing decodes: an error, not an empty dataset.
	empty := t.TempDir()
	writeFiles(t, empty, map[string][]byte{"a/x.png": []byte("no")})
	if _, err := OpenFolder(empty, FolderOptions{BadImages: BadImagesSkip, Log: &log}); err == nil {
		t.Fatal("folder with no decodable image opened")
	}
}

// TestNamedBadImages: named folder datasets take the policy from Options
// and report what they skipped on the Set.
func TestNamedBadImages(t *testing.T) {
	dir := t.TempDir()
	badFolder(t, filepath.Join(dir, "openset", "Imagenet"), true)
	_, err := Open("imagenet-crop", Test, Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "bad_header.png") {
		t.Fatalf("default policy: %v", err)
	}
	var log bytes.Buffer
	s, err := Open("imagenet-crop", Test, Options{Dir: dir, BadImages: BadImagesSkip, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 || len(s.Skipped) != 2 || !strings.Contains(log.String(), "skipped 2 of 6") {
		t.Fatalf("skip: %d images, %d skipped, log %q", s.Len(), len(s.Skipped), log.String())
	}
	if BadImagesSkip.String() != "skip" || BadImages(0).String() != "fail" || BadImagesScan.String() != "scan" {
		t.Fatal("BadImages names")
	}
}
