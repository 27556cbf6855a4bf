package data

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestHardenOmniglotLabelsCheckedFirst: an Omniglot npz whose labels array
// really holds 40 MiB (compressed to kilobytes) for images of one
// character must be refused from the two headers, before the labels are
// read, so it costs next to nothing.
func TestHardenOmniglotLabelsCheckedFirst(t *testing.T) {
	const rows = 1 << 18
	const big = rows * 20 * 8
	npz := zipOf(t,
		"images.npy", npyBytes(npyDict("|b1", "(1, 20, 105, 105)"), make([]byte, 20*105*105)),
		"labels.npy", npyBytes(npyDict("<i8", fmt.Sprintf("(%d, 20)", rows)), make([]byte, big)))
	p := writeFile(t, t.TempDir(), "images_evaluation.npz", npz)
	var err error
	if n := allocated(func() { _, _, _, err = ReadOmniglotNPZ(p, 0) }); n > 4<<20 {
		t.Errorf("refusing labels of %d bytes allocated %d bytes: they were read before the shapes were compared", big, n)
	}
	wantFormatErr(t, err, p+":labels.npy", "does not match images")
}

// TestHardenIDXPairCheckedFirst: an IDX label file declaring (and holding)
// far more labels than the image file has images is refused from the
// headers, before either payload is read.
func TestHardenIDXPairCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	img := []byte{0, 0, 8, 3}
	img = binary.BigEndian.AppendUint32(img, 2)
	img = binary.BigEndian.AppendUint32(img, 28)
	img = binary.BigEndian.AppendUint32(img, 28)
	img = append(img, make([]byte, 2*28*28)...)
	const many = 32 << 20
	lab := binary.BigEndian.AppendUint32([]byte{0, 0, 8, 1}, many)
	lab = append(lab, make([]byte, many)...)
	ip, lp := filepath.Join(dir, "i-idx3-ubyte"), filepath.Join(dir, "l-idx1-ubyte")
	if err := os.WriteFile(ip, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lp, lab, 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if n := allocated(func() { _, _, err = ReadIDXDataset(ip, lp) }); n > 1<<20 {
		t.Errorf("refusing %d labels for 2 images allocated %d bytes", many, n)
	}
	wantFormatErr(t, err, lp, "labels for 2 images")
}
