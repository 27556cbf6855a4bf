package data

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// mnistFiles are a tiny MNIST in the four gzipped IDX files.
func mnistFiles() map[string][]byte {
	return map[string][]byte{
		"train-images-idx3-ubyte.gz": gz(idxBytes(8, []int{3, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})),
		"train-labels-idx1-ubyte.gz": gz(idxBytes(8, []int{3}, []byte{0, 1, 2})),
		"t10k-images-idx3-ubyte.gz":  gz(idxBytes(8, []int{2, 2, 2}, []byte{8, 7, 6, 5, 4, 3, 2, 1})),
		"t10k-labels-idx1-ubyte.gz":  gz(idxBytes(8, []int{2}, []byte{7, 3})),
	}
}

// TestMissingSplitNamesItsFile: a missing split's error names the file
// that split needs (not the first training file) and its URL.
func TestMissingSplitNamesItsFile(t *testing.T) {
	dir := t.TempDir()
	all := mnistFiles()
	writeFiles(t, filepath.Join(dir, "mnist"), map[string][]byte{
		"train-images-idx3-ubyte.gz": all["train-images-idx3-ubyte.gz"],
		"train-labels-idx1-ubyte.gz": all["train-labels-idx1-ubyte.gz"],
	})
	if _, err := Open("mnist", Train, Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	_, err := Open("mnist", Test, Options{Dir: dir})
	var me *MissingError
	if !errors.As(err, &me) || me.File != "t10k-images-idx3-ubyte.gz" || !strings.HasSuffix(me.URL, "/t10k-images-idx3-ubyte.gz") {
		t.Fatalf("missing test split: %v", err)
	}
	if strings.Contains(err.Error(), "train-") || !reflect.DeepEqual(me.AlsoMissing, []string{"t10k-labels-idx1-ubyte.gz"}) {
		t.Fatalf("message %q names a training file, or also-missing %v is wrong", err, me.AlsoMissing)
	}
	// Only the test labels missing: they are what is named.
	writeFiles(t, filepath.Join(dir, "mnist"), map[string][]byte{"t10k-images-idx3-ubyte.gz": all["t10k-images-idx3-ubyte.gz"]})
	if _, err := Open("mnist", Test, Options{Dir: dir}); !errors.As(err, &me) || me.File != "t10k-labels-idx1-ubyte.gz" || me.AlsoMissing != nil {
		t.Fatalf("missing test labels: %v", err)
	}
	// Omniglot's test split is the evaluation set.
	if _, err := Open("omniglot", Test, Options{Dir: dir}); !errors.As(err, &me) || me.File != "images_evaluation.zip" || !strings.HasSuffix(me.URL, "images_evaluation.zip") {
		t.Fatalf("omniglot test: %v", err)
	}
	if _, err := Open("omniglot", Train, Options{Dir: dir}); !errors.As(err, &me) || me.File != "images_background.zip" {
		t.Fatalf("omniglot train: %v", err)
	}
}

// withRemote replaces Remotes[key] for the test.
func withRemote(t *testing.T, key string, r Remote) {
	saved, had := Remotes[key]
	Remotes[key] = r
	t.Cleanup(func() {
		if had {
			Remotes[key] = saved
		} else {
			delete(Remotes, key)
		}
	})
}

// TestVerifyDatasetIDX: VerifyDataset checks sums where known and reads
// every gzip stream to its end, so a corrupt CRC is found even where the
// reader stops at the payload's end.
func TestVerifyDatasetIDX(t *testing.T) {
	dir := t.TempDir()
	files := mnistFiles()
	writeFiles(t, filepath.Join(dir, "mnist"), files)
	r := Remote{Folder: "mnist"}
	for _, n := range idxNames {
		m, s := sums(files[n])
		r.Files = append(r.Files, RemoteFile{Name: n, URLs: []string{"https://example.invalid/" + n}, MD5: m, SHA256: s, Size: int64(len(files[n]))})
	}
	withRemote(t, "mnist", r)
	vs, err := VerifyDataset("mnist", Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Items != 3 || vs[1].Items != 2 || len(vs[1].Files) != 2 || vs[1].Files[0].Sums != "size, md5, sha256" {
		t.Fatalf("verification %+v", vs)
	}
	// A flipped CRC byte: the sums catch it...
	bad := append([]byte(nil), files["t10k-labels-idx1-ubyte.gz"]...)
	bad[len(bad)-6] ^= 0xff
	p := filepath.Join(dir, "mnist", "t10k-labels-idx1-ubyte.gz")
	os.WriteFile(p, bad, 0o644)
	var ce *ChecksumError
	if _, err := VerifyDataset("mnist", Options{Dir: dir}); !errors.As(err, &ce) || ce.File != p {
		t.Fatalf("corrupt file with known sums: %v", err)
	}
	// ...and without known sums the full read does.
	for i := range r.Files {
		r.Files[i].MD5, r.Files[i].SHA256, r.Files[i].Size = "", "", 0
	}
	withRemote(t, "mnist", r)
	_, err = VerifyDataset("mnist", Options{Dir: dir})
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != p {
		t.Fatalf("corrupt gzip CRC without sums: %v", err)
	}
	// Missing files are a MissingError naming the file.
	os.Remove(p)
	var me *MissingError
	if _, err := VerifyDataset("mnist", Options{Dir: dir}); !errors.As(err, &me) || me.File != "t10k-labels-idx1-ubyte.gz" {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := VerifyDataset("nope", Options{Dir: dir}); err == nil {
		t.Fatal("unknown dataset verified")
	}
}

// storedOmniglotNPZ builds an Omniglot npz of c characters x 20 drawers, stored
// (not deflated) so that a test can flip payload bytes in place.
func storedOmniglotNPZ(t *testing.T, c int) []byte {
	t.Helper()
	npy := func(header string, payload []byte) []byte {
		h := header
		for (10+len(h)+1)%64 != 0 {
			h += " "
		}
		h += "\n"
		var b bytes.Buffer
		b.WriteString("\x93NUMPY\x01\x00")
		binary.Write(&b, binary.LittleEndian, uint16(len(h)))
		b.WriteString(h)
		b.Write(payload)
		return b.Bytes()
	}
	img := bytes.Repeat([]byte{255}, c*20*105*105)
	for i := 0; i < c*20; i++ {
		img[i*105*105+i] = 0 // one stroke pixel each
	}
	lab := make([]byte, 8*c*20)
	for i := 0; i < c*20; i++ {
		binary.LittleEndian.PutUint64(lab[8*i:], uint64(i/20))
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, m := range []struct {
		name string
		data []byte
	}{
		{"labels.npy", npy("{'descr': '<i8', 'fortran_order': False, 'shape': ("+strconv.Itoa(c)+", 20), }", lab)},
		{"images.npy", npy("{'descr': '|b1', 'fortran_order': False, 'shape': ("+strconv.Itoa(c)+", 20, 105, 105), }", img)},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestVerifyOmniglotNPZ: the npz the OOD set reads is checked against its
// known sum and decoded whole, zip CRCs included; a corruption Open does
// not notice is an error naming the member.
func TestVerifyOmniglotNPZ(t *testing.T) {
	dir := t.TempDir()
	good := storedOmniglotNPZ(t, 1)
	writeFiles(t, filepath.Join(dir, "omniglot"), map[string][]byte{"images_background.npz": good, "images_evaluation.npz": good})
	// These are not the published files: the known sums reject them.
	var ce *ChecksumError
	if _, err := VerifyDataset("omniglot", Options{Dir: dir}); !errors.As(err, &ce) || !strings.HasSuffix(ce.File, "images_background.npz") {
		t.Fatalf("unpublished npz: %v", err)
	}
	saved := KnownFiles
	KnownFiles = map[string]RemoteFile{}
	defer func() { KnownFiles = saved }()
	vs, err := VerifyDataset("omniglot", Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[1].Items != 20 || vs[1].Files[0].Sums != "" {
		t.Fatalf("verification %+v", vs)
	}
	// Flip a pixel inside the stored images.npy: still a valid array, so
	// opening the set does not notice, but the member's CRC no longer
	// matches.
	bad := append([]byte(nil), good...)
	mid := len(bad) / 2
	if bad[mid] != 255 {
		t.Fatalf("byte %d is %d, not image payload", mid, bad[mid])
	}
	bad[mid] = 0
	p := filepath.Join(dir, "omniglot", "images_evaluation.npz")
	os.WriteFile(p, bad, 0o644)
	if _, err := Open("omniglot", Test, Options{Dir: dir}); err != nil {
		t.Logf("Open noticed the corruption too: %v", err)
	}
	_, err = VerifyDataset("omniglot", Options{Dir: dir})
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != p+":images.npy" {
		t.Fatalf("corrupt npz member: %v", err)
	}
}

// TestVerifyFolderDataset: every image of a folder dataset is decoded and
// the bad ones named, whatever the policy Options asks of Open.
func TestVerifyFolderDataset(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "openset", "Imagenet")
	writeFiles(t, root, map[string][]byte{"test/1.png": noisePNG(t, 8, 8, 1), "test/2.png": noisePNG(t, 8, 8, 2)})
	vs, err := VerifyDataset("imagenet-crop", Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Items != 2 || vs[0].Files[0].Path != root {
		t.Fatalf("verification %+v", vs)
	}
	badFolder(t, root, true)
	for _, policy := range []BadImages{BadImagesFail, BadImagesSkip} {
		_, err := VerifyDataset("imagenet-crop", Options{Dir: dir, BadImages: policy})
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != root || !strings.Contains(err.Error(), "2 of 8 images do not decode") ||
			!strings.Contains(err.Error(), "a/bad_header.png") || !strings.Contains(err.Error(), "b/cut_body.png") {
			t.Fatalf("policy %v: %v", policy, err)
		}
	}
}

// TestVerifyDatasetReal runs VerifyDataset on the real files when present:
// the Omniglot npz against its published sha256, MNIST against torchvision's
// sums.
func TestVerifyDatasetReal(t *testing.T) {
	dir := sharedDataDir(t, "omniglot")
	vs, err := VerifyDataset("omniglot", Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if vs[0].Items != 19280 || vs[1].Items != 13180 || vs[1].Files[0].Sums != "size, sha256" {
		t.Fatalf("omniglot verification %+v", vs)
	}
	if _, err := os.Stat(filepath.Join(dir, "mnist")); err == nil {
		vs, err := VerifyDataset("mnist", Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if vs[0].Items != 60000 || vs[0].Files[0].Sums != "size, md5, sha256" {
			t.Fatalf("mnist verification %+v", vs)
		}
	}
}
