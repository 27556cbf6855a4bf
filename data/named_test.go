package data

import (
	"math"
	"testing"
)

// TestMNISTReal checks the real MNIST files: counts, the known test class
// distribution, and the train pixel mean 0.1307.
func TestMNISTReal(t *testing.T) {
	dir := sharedDataDir(t, "mnist")
	train, err := Open("mnist", Train, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	test, err := Open("mnist", Test, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 {
		t.Fatalf("counts %d/%d, want 60000/10000", train.Len(), test.Len())
	}
	wantTest := []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
	wantTrain := []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}
	for name, c := range map[string][2][]int{"test": {ClassCounts(test), wantTest}, "train": {ClassCounts(train), wantTrain}} {
		for k := range c[1] {
			if len(c[0]) != 10 || c[0][k] != c[1][k] {
				t.Fatalf("%s class counts %v, want %v", name, c[0], c[1])
			}
		}
	}
	m := train.Dataset.(*Memory)
	var sum float64
	for _, v := range m.Pix {
		sum += float64(v) / 255
	}
	mean := sum / float64(len(m.Pix))
	t.Logf("MNIST train pixel mean %.5f", mean)
	if math.Abs(mean-0.1307) > 5e-5 {
		t.Fatalf("train pixel mean %.5f, want 0.1307", mean)
	}
}

// TestOmniglotReal checks the npz conversion's counts and that the OOD set
// is the first 10,000 evaluation images, inverted and resized to 28x28.
func TestOmniglotReal(t *testing.T) {
	dir := sharedDataDir(t, "omniglot")
	for _, c := range []struct {
		file  string
		total int
	}{{"images_evaluation.npz", 13180}, {"images_background.npz", 19280}} {
		z, err := OpenNPZ(dir + "/omniglot/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		h, rc, err := z.Open("images")
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		z.Close()
		if n := h.Shape[0] * h.Shape[1]; n != c.total {
			t.Errorf("%s: %d images, want %d", c.file, n, c.total)
		}
	}
	set, err := Open("omniglot", Test, Options{Dir: dir, ClassNum: 10})
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 10000 {
		t.Fatalf("omniglot OOD set has %d images, want 10000", set.Len())
	}
	if c, h, w := set.Shape(); c != 1 || h != 28 || w != 28 {
		t.Fatalf("shape %d %d %d", c, h, w)
	}
	// Inverted: the background is black, so the mean is well below 0.5,
	// and the last image belongs to character 499 (10,000 / 20 drawers).
	m := set.Dataset.(*Memory)
	var sum float64
	for _, v := range m.Pix {
		sum += float64(v)
	}
	mean := sum / float64(len(m.Pix)) / 255
	t.Logf("omniglot OOD pixel mean %.4f", mean)
	if mean > 0.25 || mean < 0.01 {
		t.Fatalf("pixel mean %.3f: not white strokes on black", mean)
	}
	if set.Label(9999) != 499 || set.Label(0) != 0 {
		t.Fatalf("labels %d..%d, want 0..499", set.Label(0), set.Label(9999))
	}
	u, err := OpenUnknown("omniglot", Test, Options{Dir: dir, ClassNum: 10})
	if err != nil {
		t.Fatal(err)
	}
	if u.Label(1234) != 10 {
		t.Fatalf("unknown label %d, want 10", u.Label(1234))
	}
}

// TestCIFAR10JPEGReal checks the JPEG tars: counts per class and split, and
// the channel means of the training set.
func TestCIFAR10JPEGReal(t *testing.T) {
	dir := sharedDataDir(t, "cifar10-jpeg")
	train, err := Open("cifar10", Train, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	test, err := Open("cifar10", Test, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		s    *Set
		n, k int
	}{"train": {train, 50000, 5000}, "test": {test, 10000, 1000}} {
		if c.s.Len() != c.n {
			t.Fatalf("%s: %d images, want %d", name, c.s.Len(), c.n)
		}
		for k, v := range ClassCounts(c.s) {
			if v != c.k {
				t.Fatalf("%s: class %d has %d images, want %d", name, k, v, c.k)
			}
		}
	}
	known, err := Open("cifar_known", Test, Options{Dir: dir, ClassNum: 6})
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := Open("cifar_unknown", Test, Options{Dir: dir, ClassNum: 6})
	if err != nil {
		t.Fatal(err)
	}
	if known.Len() != 6000 || unknown.Len() != 4000 || unknown.Label(0) != 6 {
		t.Fatalf("class_num 6: known %d unknown %d (first label %d)", known.Len(), unknown.Len(), unknown.Label(0))
	}
	// Channel means over every training image (decoding 50,000 JPEGs).
	means := channelMeans(t, train)
	t.Logf("CIFAR-10 JPEG train channel means (Go decoder) %.4f %.4f %.4f", means[0], means[1], means[2])
	want := []float64{0.4914, 0.4822, 0.4465}
	for c := range want {
		if math.Abs(means[c]-want[c]) > 0.003 {
			t.Fatalf("channel %d mean %.4f, want near %.4f", c, means[c], want[c])
		}
	}
}
