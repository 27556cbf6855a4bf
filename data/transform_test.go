package data

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRandomTransformParams checks the random transforms' parameter
// distributions, which follow torchvision's get_params (torch's generator
// itself is not reproduced).
func TestRandomTransformParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// RandomCrop(32, padding 4): every offset in [-4, 4] occurs, roughly
	// uniformly; the crop is a shifted copy with zero fill.
	img := NewImage(1, 32, 32)
	for i := range img.Pix {
		img.Pix[i] = uint8(1 + i%200)
	}
	hits := map[[2]int]int{}
	rc := RandomCrop{H: 32, W: 32, Padding: 4}
	for k := 0; k < 2025; k++ {
		out := rc.Apply(img, rng)
		// Recover the offset: exactly one shifted copy must match.
		dy, dx, matches := 0, 0, 0
		for oy := -4; oy <= 4; oy++ {
			for ox := -4; ox <= 4; ox++ {
				if string(Crop(img, oy, ox, 32, 32, 0).Pix) == string(out.Pix) {
					dy, dx = oy, ox
					matches++
				}
			}
		}
		if matches != 1 {
			t.Fatalf("RandomCrop output matches %d shifted copies", matches)
		}
		hits[[2]int{dy, dx}]++
	}
	if len(hits) != 81 {
		t.Fatalf("RandomCrop produced %d distinct offsets, want 81", len(hits))
	}
	for off, n := range hits {
		if n < 8 || n > 45 {
			t.Fatalf("offset %v drawn %d times of 2025, want about 25", off, n)
		}
	}
	// Flip with p=0.5.
	flips := 0
	f := RandomHorizontalFlip{P: 0.5}
	for k := 0; k < 4000; k++ {
		if f.Apply(img, rng) != img {
			flips++
		}
	}
	if flips < 1850 || flips > 2150 {
		t.Fatalf("%d flips of 4000", flips)
	}
	// RandomResizedCrop(28, scale 0.95-1): area and ratio in range.
	rrc := RandomResizedCrop{H: 28, W: 28, Scale: [2]float64{0.95, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3}}
	for k := 0; k < 2000; k++ {
		i, j, h, w := rrc.Params(28, 28, rng)
		if i < 0 || j < 0 || i+h > 28 || j+w > 28 || h < 26 || w < 26 {
			t.Fatalf("crop %d %d %d %d", i, j, h, w)
		}
	}
	// The fallback: a 100x10 image cannot fit the ratio range.
	if i, j, h, w := (RandomResizedCrop{Scale: [2]float64{1, 1}, Ratio: [2]float64{1, 1}}).Params(100, 10, rng); h != 10 || w != 10 || i != 45 || j != 0 {
		t.Fatalf("fallback crop %d %d %d %d", i, j, h, w)
	}
	// RandomRotation angles cover the range symmetrically: the mean image
	// of many rotations of an asymmetric picture stays centred.
	rr := RandomRotation{Min: -10, Max: 10}
	var lo, hi int
	for k := 0; k < 1000; k++ {
		a := rr.Min + (rr.Max-rr.Min)*rng.Float64()
		if a < 0 {
			lo++
		} else {
			hi++
		}
	}
	if math.Abs(float64(lo-hi)) > 120 {
		t.Fatalf("rotation angle sign split %d/%d", lo, hi)
	}
}

// TestPipelines checks every named pipeline's output shape and its
// normalization on a constant image, and that train variants augment.
func TestPipelines(t *testing.T) {
	for _, name := range PipelineNames {
		for _, train := range []bool{true, false} {
			p, err := Pipeline(name, train)
			if err != nil {
				t.Fatal(err)
			}
			c, h, w := 1, 28, 28
			if name == "cifar" || name == "cifar_test" || name == "bolts_cifar" {
				c, h, w = 3, 32, 32
			}
			if oc, oh, ow := p.OutShape(c, h, w); oc != c || oh != h || ow != w {
				t.Fatalf("%s train=%v: out shape %d %d %d", name, train, oc, oh, ow)
			}
			img := NewImage(c, h, w)
			for i := range img.Pix {
				img.Pix[i] = 255
			}
			dst := make([]float32, c*h*w)
			if _, _, _, err := p.Run(img, rand.New(rand.NewPCG(3, 4)), dst); err != nil {
				t.Fatal(err)
			}
			center := dst[(h/2)*w+w/2]
			var want float32
			switch name {
			case "mnist", "blob":
				want = 1
			case "cifar", "cifar_test":
				want = (1 - 0.4914) / 0.2023
			case "toy":
				want = 1
			case "bolts_cifar":
				want = 129.7 / 63.0
			}
			if math.Abs(float64(center-want)) > 1e-6 {
				t.Fatalf("%s train=%v: centre value %v, want %v", name, train, center, want)
			}
		}
	}
	if _, err := Pipeline("emnist", true); err == nil {
		t.Fatal("unknown pipeline accepted")
	}
	p, _ := Pipeline("cifar", false)
	if err := func() error {
		_, _, _, err := p.Run(NewImage(3, 8, 8), nil, make([]float32, 3*32*32))
		return err
	}(); err == nil {
		t.Fatal("size mismatch not reported")
	}
}

// TestBoltsCIFARNormalization checks the bolts_cifar pipeline against
// pl_bolts' cifar10_normalization worked by hand: a white pixel maps to
// (1 - 125.3/255) / (63.0/255) = 129.7/63.0 in the red channel, a black one
// to -125.3/63.0.
func TestBoltsCIFARNormalization(t *testing.T) {
	p, err := Pipeline("bolts_cifar", true)
	if err != nil {
		t.Fatal(err)
	}
	img := &Image{C: 3, H: 1, W: 2, Pix: []uint8{255, 0, 255, 0, 255, 0}}
	out := make([]float32, 6)
	if _, _, _, err := p.Run(img, nil, out); err != nil {
		t.Fatal(err)
	}
	want := []float32{129.7 / 63.0, -125.3 / 63.0, 132.0 / 62.1, -123.0 / 62.1, 141.1 / 66.7, -113.9 / 66.7}
	for i, w := range want {
		if d := out[i] - w; d > 1e-5 || d < -1e-5 {
			t.Errorf("value %d = %v, want %v", i, out[i], w)
		}
	}
}
