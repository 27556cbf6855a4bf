package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/csv"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/data"
)

// scoreRows runs vmdls score with args and returns its CSV rows less the
// header.
func scoreRows(t *testing.T, args ...string) [][]string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(append([]string{"score"}, args...), &out, &errb); err != nil {
		t.Fatalf("score %v: %v\n%s", args, err, errb.String())
	}
	if errb.Len() > 0 {
		t.Errorf("score %v wrote to stderr, which is not a terminal: %q", args, errb.String())
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(rows) == 0 || strings.Join(rows[0], ",") != "path,score,class,unknown" {
		t.Fatalf("score %v: %v %v", args, rows, err)
	}
	return rows[1:]
}

func pngBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// headerOnlyPNG is a PNG whose header declares w x h gray pixels and
// which holds none: a decompression bomb's first bytes.
func headerOnlyPNG(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, w), h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0)
	chunk := append([]byte("IHDR"), ihdr...)
	b = append(binary.BigEndian.AppendUint32(b, uint32(len(ihdr))), chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

func writeZip(t *testing.T, path string, names []string, files [][]byte) {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[i])
	}
	zw.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeTarGz(t *testing.T, path string, names []string, files [][]byte) {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for i, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[i])), Typeflag: tar.TypeReg})
		tw.Write(files[i])
	}
	tw.Close()
	gz.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScoreArchivesAndDatasets: the images of a zip, of a tar.gz and of
// the named split mnist:test get the library's scores, named
// ARCHIVE!MEMBER and mnist:test#INDEX; archives with a member that climbs
// out of the archive, or one whose header claims 50,000 x 50,000 pixels,
// or no image at all, and unknown splits, exit 2 naming the problem.
func TestScoreArchivesAndDatasets(t *testing.T) {
	fx := toyDetector(t)
	ctx := context.Background()
	dir := t.TempDir()
	var imgs []image.Image
	var names []string
	var files [][]byte
	for i := range 5 {
		g := image.NewGray(image.Rect(0, 0, 28+i, 28)) // sizes vary: resized
		for j := range g.Pix {
			g.Pix[j] = uint8(i*40 + j%31)
		}
		imgs, names, files = append(imgs, g), append(names, "d/img"+strconv.Itoa(i)+".png"), append(files, pngBytes(t, g))
	}
	want, err := fx.det.ScoreImages(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	// A text member is left out by its name.
	zipPath, tgzPath := filepath.Join(dir, "imgs.zip"), filepath.Join(dir, "imgs.tar.gz")
	writeZip(t, zipPath, append(names, "README.txt"), append(files, []byte("notes")))
	writeTarGz(t, tgzPath, names, files)
	for _, a := range []string{zipPath, tgzPath} {
		rows := scoreRows(t, "--detector", fx.detPath, "--batch", "2", a)
		if len(rows) != len(names) {
			t.Fatalf("%s: %d rows, want %d", a, len(rows), len(names))
		}
		for i, r := range rows {
			if r[0] != a+"!"+names[i] || r[1] != strconv.FormatFloat(want[i].Score, 'g', -1, 64) || r[2] != want[i].ClassName || r[3] != strconv.FormatBool(want[i].Unknown) {
				t.Errorf("%s row %d = %v, the library gives %v", a, i, r, want[i])
			}
		}
	}

	set, err := data.Open("mnist", data.Test, data.Options{Dir: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	var dimgs []image.Image
	for i := range 12 {
		im, err := set.Image(i)
		if err != nil {
			t.Fatal(err)
		}
		dimgs = append(dimgs, goImage(im))
	}
	dwant, err := fx.det.ScoreImages(ctx, dimgs)
	if err != nil {
		t.Fatal(err)
	}
	rows := scoreRows(t, "--detector", fx.detPath, "--data_dir", fx.dataDir, "--limit", "12", "--batch", "5", "mnist:test")
	if len(rows) != 12 {
		t.Fatalf("mnist:test --limit 12: %d rows", len(rows))
	}
	for i, r := range rows {
		if r[0] != "mnist:test#"+strconv.Itoa(i) || r[1] != strconv.FormatFloat(dwant[i].Score, 'g', -1, 64) {
			t.Errorf("mnist:test row %d = %v, the library gives %v", i, r, dwant[i].Score)
		}
	}
	if all := scoreRows(t, "--detector", fx.detPath, "--data_dir", fx.dataDir, "mnist"); len(all) != set.Len() {
		t.Errorf("mnist (the test split): %d rows, want %d", len(all), set.Len())
	}

	climb, bomb, empty := filepath.Join(dir, "climb.zip"), filepath.Join(dir, "bomb.tar"), filepath.Join(dir, "empty.zip")
	writeZip(t, climb, []string{"../../etc/x.png"}, [][]byte{files[0]})
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	bombPNG := headerOnlyPNG(50000, 50000)
	tw.WriteHeader(&tar.Header{Name: "big.png", Mode: 0o644, Size: int64(len(bombPNG)), Typeflag: tar.TypeReg})
	tw.Write(bombPNG)
	tw.Close()
	if err := os.WriteFile(bomb, tb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	writeZip(t, empty, []string{"a.txt"}, [][]byte{[]byte("x")})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{climb}, "climb.zip"},
		{[]string{bomb}, "50000x50000"},
		{[]string{empty}, "no PNG or JPEG member"},
		{[]string{"--data_dir", fx.dataDir, "mnist:valid"}, `split "valid"`},
		{[]string{"--data_dir", fx.dataDir, "noise"}, "noise"},
		{[]string{"--data_dir", dir, "mnist"}, "mnist"},
		{[]string{"--limit", "-1", zipPath}, "--limit"},
	} {
		var out, errb bytes.Buffer
		err := run(append([]string{"score", "--detector", fx.detPath}, c.args...), &out, &errb)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want exit 2 naming %q", c.args, err, exitCode(err), c.want)
		}
	}
}

// TestScoreOutAtomic: --out gets the whole CSV; a run that fails part way
// leaves the previous file as it was.
func TestScoreOutAtomic(t *testing.T) {
	fx := toyDetector(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "a.png")
	if err := os.WriteFile(good, pngBytes(t, image.NewGray(image.Rect(0, 0, 28, 28))), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "b.png")
	if err := os.WriteFile(bad, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "scores.csv")
	var so, se bytes.Buffer
	if err := run([]string{"score", "--detector", fx.detPath, "--out", out, good}, &so, &se); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(out)
	if !bytes.HasPrefix(first, []byte("path,score,class,unknown\n"+good+",")) || so.Len() != 0 {
		t.Fatalf("--out holds %q; stdout %q", first, so.String())
	}
	if err := run([]string{"score", "--detector", fx.detPath, "--out", out, "--batch", "1", good, bad}, &so, &se); exitCode(err) != 2 {
		t.Fatalf("a bad image: %v, want exit 2", err)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(after, first) {
		t.Errorf("a failed run changed --out: %q", after)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("files left in the folder: %v", ents)
	}
}
