package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestScoreCommand takes the tiny detector fitted through the library
// (toyDetector) and scores PNG files given one by one and as a folder
// through `vmdls score`: every row equals the library's ScoreImages on the same images, whatever the
// --batch; bad inputs exit 2 naming what is wrong.
func TestScoreCommand(t *testing.T) {
	fx := toyDetector(t)
	det, detPath, ctx := fx.det, fx.detPath, context.Background()
	dir := t.TempDir()
	imgDir := filepath.Join(dir, "images", "sub")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var imgs []image.Image
	var paths []string
	for i := range 5 {
		g := image.NewGray(image.Rect(0, 0, 28, 28))
		for j := range g.Pix {
			g.Pix[j] = uint8(i*50 + j%37)
		}
		p := filepath.Join(imgDir, "img"+strconv.Itoa(i)+".png")
		var b bytes.Buffer
		if err := png.Encode(&b, g); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		imgs, paths = append(imgs, g), append(paths, p)
	}
	want, err := det.ScoreImages(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	check := func(args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(append([]string{"score", "--detector", detPath}, args...), &out, &errb); err != nil {
			t.Fatalf("score %v: %v\n%s", args, err, errb.String())
		}
		rows, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(paths)+1 || strings.Join(rows[0], ",") != "path,score,class,unknown" {
			t.Fatalf("score %v: rows %v", args, rows)
		}
		for i, r := range rows[1:] {
			s, _ := strconv.ParseFloat(r[1], 64)
			if r[0] != paths[i] || s != want[i].Score || r[2] != want[i].ClassName || r[3] != strconv.FormatBool(want[i].Unknown) {
				t.Errorf("score %v row %d = %v, the library gives %s %v %s %v", args, i, r, paths[i], want[i].Score, want[i].ClassName, want[i].Unknown)
			}
		}
	}
	check(paths...)
	check(filepath.Join(dir, "images"))
	check("--batch", "2", filepath.Join(dir, "images"))

	text := filepath.Join(dir, "notes.png")
	if err := os.WriteFile(text, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"score", paths[0]}, "--detector"},
		{[]string{"score", "--detector", detPath}, "no INPUT"},
		{[]string{"score", "--detector", detPath, text}, "notes.png"},
		{[]string{"score", "--detector", fx.ckpt, paths[0]}, "--detector"},
		{[]string{"score", "--detector", detPath, filepath.Join(dir, "missing")}, "missing"},
	} {
		var out, errb bytes.Buffer
		err := run(c.args, &out, &errb)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want exit 2 naming %q", c.args, err, exitCode(err), c.want)
		}
	}
}
