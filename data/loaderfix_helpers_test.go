package data

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// noisePNG encodes a w x h RGB PNG of varied pixels (so its compressed body
// is long enough to cut inside).
func noisePNG(t testing.TB, w, h, seed int) []byte {
	t.Helper()
	im := image.NewNRGBA(image.Rect(0, 0, w, h))
	v := uint32(seed*2654435761 + 1)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v = v*1664525 + 1013904223
			im.SetNRGBA(x, y, color.NRGBA{byte(v >> 24), byte(v >> 16), byte(v >> 8), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, im); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeFiles writes name -> content under dir, making folders as needed.
func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for n, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
