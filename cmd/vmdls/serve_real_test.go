package main

import (
	"context"
	"image"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/ovd/serve"
)

// realDataDir is the real datasets' folder ($VMDLS_DATA, or ../shared/data
// beside the module root), skipping when MNIST or Omniglot is absent.
func realDataDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("VMDLS_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	for _, f := range []string{"mnist/t10k-images-idx3-ubyte.gz", "omniglot/images_evaluation.npz"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Skipf("real data %s not found under %s (set VMDLS_DATA)", f, dir)
		}
	}
	return dir
}

// TestRealImagesThreeWays: real MNIST test images and Omniglot evaluation
// images (inverted and resized to 28x28 by the reader, as the reference's
// OmniglotWrapper makes them) get the same scores, bit for bit, from the
// library, from `vmdls score` on the named splits and from
// the server, one PNG a request.
func TestRealImagesThreeWays(t *testing.T) {
	fx := toyDetector(t)
	dir := realDataDir(t)
	const n = 12
	s := serve.New(fx.det, serve.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts := httptest.NewServer(s)
	defer func() { ts.Close(); s.Close() }()
	for _, name := range []string{"mnist", "omniglot"} {
		set, err := data.Open(name, data.Test, data.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		imgs := make([]image.Image, n)
		for i := range imgs {
			im, err := set.Image(i)
			if err != nil {
				t.Fatal(err)
			}
			imgs[i] = goImage(im)
		}
		lib, err := fx.det.ScoreImages(context.Background(), imgs)
		if err != nil {
			t.Fatal(err)
		}
		rows := scoreRows(t, "--detector", fx.detPath, "--data_dir", dir, "--limit", strconv.Itoa(n), name+":test")
		for i := range n {
			var r serve.Response
			postJSON(t, ts.Client(), ts.URL+"/v1/score", "image/png", pngBytes(t, imgs[i]), &r)
			ls := strconv.FormatFloat(lib[i].Score, 'g', -1, 64)
			if rows[i][1] != ls || rows[i][2] != lib[i].ClassName || len(r.Results) != 1 || r.Results[0].Score != lib[i].Score || r.Results[0].Class != lib[i].ClassName {
				t.Errorf("%s image %d: library %s %s, score %v, serve %+v", name, i, ls, lib[i].ClassName, rows[i], r.Results)
			}
		}
	}
}
