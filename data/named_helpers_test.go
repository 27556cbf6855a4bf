package data

import (
	"testing"

	"github.com/vmdls-go/vmdls/parallel"
)

func channelMeans(t *testing.T, ds Dataset) []float64 {
	t.Helper()
	n := ds.Len()
	const chunks = 64
	sums := make([][3]float64, chunks)
	errs := make([]error, chunks)
	parallel.For(chunks, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			for i := ch * n / chunks; i < (ch+1)*n/chunks; i++ {
				im, err := ds.Image(i)
				if err != nil {
					errs[ch] = err
					return
				}
				for c := 0; c < 3; c++ {
					s := 0
					for _, v := range im.Plane(c) {
						s += int(v)
					}
					sums[ch][c] += float64(s)
				}
			}
		}
	})
	out := make([]float64, 3)
	for ch := range sums {
		if errs[ch] != nil {
			t.Fatal(errs[ch])
		}
		for c := 0; c < 3; c++ {
			out[c] += sums[ch][c]
		}
	}
	c, h, w := ds.Shape()
	_ = c
	for i := range out {
		out[i] /= float64(n*h*w) * 255
	}
	return out
}
