package data

import (
	"math"
	"reflect"
	"testing"
)

// synthetic makes a small in-memory dataset with varied pixels.
func synthetic(n, c, h, w int) *Memory {
	m := &Memory{C: c, H: h, W: w, Pix: make([]uint8, n*c*h*w), Labels: make([]int, n)}
	for i := range m.Pix {
		m.Pix[i] = uint8(i*7 + i/13)
	}
	for i := range m.Labels {
		m.Labels[i] = i % 5
	}
	return m
}

func collect(t *testing.T, l *Loader, epoch int, batches [][]int) ([][]float32, [][]int) {
	t.Helper()
	it := l.Epoch(epoch, batches)
	defer it.Close()
	var xs [][]float32
	var ys [][]int
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		xs = append(xs, append([]float32(nil), b.X.Data()...))
		ys = append(ys, b.Labels)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return xs, ys
}

// TestLoaderDeterministic checks that random augmentations give the same
// batches for 1, 2 and 7 workers and any prefetch depth, differ between
// epochs, and carry the right labels.
func TestLoaderDeterministic(t *testing.T) {
	ds := synthetic(300, 3, 32, 32)
	tf, _ := Pipeline("cifar", true)
	s, _ := NewBalancedSampler(Labels(ds), 3, 8, 1)
	batches := s.Epoch()
	var ref [][]float32
	for _, workers := range []int{1, 2, 7} {
		for _, pf := range []int{1, 4} {
			l := NewLoader(ds, tf, LoaderOptions{Workers: workers, Prefetch: pf, Seed: 99})
			xs, ys := collect(t, l, 3, batches)
			if len(xs) != len(batches) {
				t.Fatalf("%d batches, want %d", len(xs), len(batches))
			}
			for k, b := range batches {
				for p, i := range b {
					if ys[k][p] != ds.Labels[i] {
						t.Fatalf("batch %d label %d is %d, want %d", k, p, ys[k][p], ds.Labels[i])
					}
				}
			}
			if ref == nil {
				ref = xs
			} else if !reflect.DeepEqual(xs, ref) {
				t.Fatalf("workers %d prefetch %d: batches differ from 1 worker", workers, pf)
			}
		}
	}
	l := NewLoader(ds, tf, LoaderOptions{Workers: 2, Seed: 99})
	other, _ := collect(t, l, 4, batches)
	if reflect.DeepEqual(other, ref) {
		t.Fatal("epoch 4 repeats epoch 3's augmentations")
	}
}

// TestLoaderValues checks a test-time batch against the transform applied
// by hand, and the noise set bypassing the pipeline.
func TestLoaderValues(t *testing.T) {
	ds := synthetic(10, 1, 28, 28)
	tf, _ := Pipeline("blob", false)
	l := NewLoader(ds, tf, LoaderOptions{Workers: 3})
	xs, _ := collect(t, l, 0, SequentialSampler{N: 10, BatchSize: 4}.Epoch())
	if len(xs) != 3 || len(xs[2]) != 2*784 {
		t.Fatalf("batch sizes wrong: %d batches, last %d values", len(xs), len(xs[2]))
	}
	for k := 0; k < 784; k++ {
		want := (float32(ds.Pix[4*784+k])/255 - 0.5) / 0.5
		if xs[1][k] != want {
			t.Fatalf("value %d = %v, want %v", k, xs[1][k], want)
		}
	}
	noise := &Noise{N: 20, C: 1, H: 28, W: 28, Seed: 5, LabelValue: 10}
	nl := NewLoader(noise, tf, LoaderOptions{Workers: 2})
	nx, ny := collect(t, nl, 0, SequentialSampler{N: 20, BatchSize: 20}.Epoch())
	var sum float64
	for _, v := range nx[0] {
		if v < 0 || v >= 1 {
			t.Fatalf("noise value %v outside [0,1)", v)
		}
		sum += float64(v)
	}
	if m := sum / float64(len(nx[0])); math.Abs(m-0.5) > 0.01 || ny[0][3] != 10 {
		t.Fatalf("noise mean %.4f label %d", m, ny[0][3])
	}
	// mnist_noise: the pipeline then uniform noise.
	post := tf.Then(UniformNoise{Lo: 0, Hi: 1})
	pl := NewLoader(ds, post, LoaderOptions{Workers: 2, Seed: 1})
	px, _ := collect(t, pl, 0, SequentialSampler{N: 10, BatchSize: 10}.Epoch())
	for k := 0; k < 784; k++ {
		base := (float32(ds.Pix[k])/255 - 0.5) / 0.5
		if d := px[0][k] - base; d < 0 || d >= 1 {
			t.Fatalf("mnist_noise value %d: noise %v outside [0,1)", k, d)
		}
	}
}

// TestLoaderErrorAndClose checks that a failing sample surfaces as Err and
// that Close mid-epoch returns.
func TestLoaderErrorAndClose(t *testing.T) {
	f := &Folder{Name: "mem", Files: []string{"a/1.png", "a/2.png"}, labels: []int{0, 0},
		blobs: [][]byte{[]byte("not an image"), []byte("\x89PNG\r\n\x1a\nbroken")}, channels: 1, c: 1, h: 4, w: 4}
	l := NewLoader(f, nil, LoaderOptions{Workers: 2})
	it := l.Epoch(0, [][]int{{0, 1}})
	if _, ok := it.Next(); ok {
		t.Fatal("batch of corrupt images delivered")
	}
	if it.Err() == nil {
		t.Fatal("no error for corrupt images")
	}
	it.Close()
	ds := synthetic(1000, 1, 28, 28)
	l = NewLoader(ds, nil, LoaderOptions{Workers: 2, Prefetch: 1})
	it = l.Epoch(0, SequentialSampler{N: 1000, BatchSize: 10}.Epoch())
	if _, ok := it.Next(); !ok {
		t.Fatal(it.Err())
	}
	it.Close()
}

// TestLoaderSubsetOfImages checks that a Subset of an image dataset goes
// through the transform pipeline (a Subset has a Float method whatever its
// base; only a float base makes its items float).
func TestLoaderSubsetOfImages(t *testing.T) {
	m := &Memory{C: 1, H: 2, W: 2, Pix: []uint8{0, 255, 255, 0, 51, 51, 51, 51}, Labels: []int{0, 1}}
	l := NewLoader(Head(FilterLabels(m, func(int) bool { return true }), 2), nil, LoaderOptions{Workers: 1})
	it := l.Epoch(0, [][]int{{0, 1}})
	defer it.Close()
	b, ok := it.Next()
	if !ok {
		t.Fatal(it.Err())
	}
	want := []float32{0, 1, 1, 0, 0.2, 0.2, 0.2, 0.2}
	for i, v := range b.X.Data() {
		if v != want[i] {
			t.Fatalf("batch %v, want %v", b.X.Data(), want)
		}
	}
}
