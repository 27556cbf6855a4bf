package data

import (
	"fmt"
	"math/rand/v2"
)

// Dataset is an indexed collection of labelled images.
type Dataset interface {
	// Len returns the number of items.
	Len() int
	// Label returns item i's class label.
	Label(i int) int
	// Shape returns the channels, height and width of the stored images
	// (of the first image where sizes vary).
	Shape() (c, h, w int)
	// Image returns item i, decoded. The image may share memory with the
	// dataset: callers must not modify it. It is safe to call from several
	// goroutines at once.
	Image(i int) (*Image, error)
}

// FloatDataset is a Dataset whose items are float tensors that bypass the
// transform pipeline, as the reference's noise set does. The loader calls
// Float instead of Image when a dataset implements it.
type FloatDataset interface {
	Dataset
	// Float writes item i (Shape() elements, CHW) into dst.
	Float(i int, dst []float32) error
}

// Labels returns every label of ds in index order.
func Labels(ds Dataset) []int {
	out := make([]int, ds.Len())
	for i := range out {
		out[i] = ds.Label(i)
	}
	return out
}

// MaxClasses bounds the labels ClassCounts counts, and those
// ClassCountsChecked accepts when it is given no class count. It is far
// above any dataset read here (Omniglot's background set has 964 classes,
// ImageNet-21k 21,841), and it keeps a corrupt label file from making the
// counts, whose length is the largest label, take gigabytes.
var MaxClasses = 1 << 16

// ClassCounts returns the number of items of each label 0..max label.
// Labels a file can hold but a class cannot be, negative or at least
// MaxClasses, are not counted, so the counts never take more memory than
// MaxClasses ints and a bad label never panics; use ClassCountsChecked to
// have such labels reported.
func ClassCounts(ds Dataset) []int {
	var counts []int
	for i := 0; i < ds.Len(); i++ {
		l := ds.Label(i)
		if l < 0 || l >= MaxClasses {
			continue
		}
		if l >= len(counts) {
			counts = append(counts, make([]int, l+1-len(counts))...)
		}
		counts[l]++
	}
	return counts
}

// ClassCountsChecked returns the number of items of each label, checking
// every label against the class count: with classNum > 0 each label must
// be in [0, classNum) and the counts have length classNum; with classNum
// <= 0 (class count unknown) each must be in [0, MaxClasses) and the counts
// run to the largest label. The first label out of range is an error naming
// it and its item index; so is a classNum over MaxClasses.
func ClassCountsChecked(ds Dataset, classNum int) ([]int, error) {
	if classNum > MaxClasses {
		return nil, fmt.Errorf("data: class count %d is over MaxClasses (%d)", classNum, MaxClasses)
	}
	limit := classNum
	if classNum <= 0 {
		limit = MaxClasses
	}
	var counts []int
	if classNum > 0 {
		counts = make([]int, classNum)
	}
	for i := 0; i < ds.Len(); i++ {
		l := ds.Label(i)
		if l < 0 || l >= limit {
			if classNum > 0 {
				return nil, fmt.Errorf("data: item %d has label %d, want 0 <= label < %d (the class count)", i, l, classNum)
			}
			return nil, fmt.Errorf("data: item %d has label %d, want 0 <= label < %d (MaxClasses)", i, l, MaxClasses)
		}
		if l >= len(counts) {
			counts = append(counts, make([]int, l+1-len(counts))...)
		}
		counts[l]++
	}
	return counts, nil
}

// Memory is a Dataset of same-sized 8-bit images held in one slice (the
// form of IDX and CIFAR binary data).
type Memory struct {
	C, H, W int
	// Pix holds Len() images of C*H*W bytes each, planar.
	Pix    []uint8
	Labels []int
}

// Len returns the number of images.
func (m *Memory) Len() int { return len(m.Labels) }

// Label returns image i's label.
func (m *Memory) Label(i int) int { return m.Labels[i] }

// Shape returns the image shape.
func (m *Memory) Shape() (int, int, int) { return m.C, m.H, m.W }

// Image returns image i without copying its pixels.
func (m *Memory) Image(i int) (*Image, error) {
	n := m.C * m.H * m.W
	return &Image{C: m.C, H: m.H, W: m.W, Pix: m.Pix[i*n : (i+1)*n : (i+1)*n]}, nil
}

// Subset is a Dataset of chosen items of another, optionally relabelled.
type Subset struct {
	Base    Dataset
	Indices []int
	// Relabel, when not nil, maps the base label to the label reported.
	Relabel func(int) int
}

// Len returns the number of chosen items.
func (s *Subset) Len() int { return len(s.Indices) }

// Label returns the (relabelled) label of item i.
func (s *Subset) Label(i int) int {
	l := s.Base.Label(s.Indices[i])
	if s.Relabel != nil {
		return s.Relabel(l)
	}
	return l
}

// Shape returns the base dataset's shape.
func (s *Subset) Shape() (int, int, int) { return s.Base.Shape() }

// Image returns item i of the subset.
func (s *Subset) Image(i int) (*Image, error) { return s.Base.Image(s.Indices[i]) }

// Float forwards to a FloatDataset base.
func (s *Subset) Float(i int, dst []float32) error {
	fd, ok := s.Base.(FloatDataset)
	if !ok {
		return fmt.Errorf("data: Subset.Float: base dataset has no float items")
	}
	return fd.Float(s.Indices[i], dst)
}

// FilterLabels returns the items of ds whose label satisfies keep, in order.
func FilterLabels(ds Dataset, keep func(int) bool) *Subset {
	var idx []int
	for i := 0; i < ds.Len(); i++ {
		if keep(ds.Label(i)) {
			idx = append(idx, i)
		}
	}
	return &Subset{Base: ds, Indices: idx}
}

// Head returns the first n items of ds (all of them when it has fewer).
func Head(ds Dataset, n int) *Subset {
	n = min(n, ds.Len())
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return &Subset{Base: ds, Indices: idx}
}

// AsUnknown returns ds with every label replaced by label: the reference
// labels every image of the unknown (out-of-distribution) set class_num.
func AsUnknown(ds Dataset, label int) *Subset {
	s := Head(ds, ds.Len())
	s.Relabel = func(int) int { return label }
	return s
}

// Noise is the reference's "noise" set: images of independent uniform
// [0,1) values, used as they are (no transform), all labelled Label. Item i
// is the same for the same Seed.
type Noise struct {
	N, C, H, W int
	Seed       uint64
	LabelValue int
}

// Len returns N.
func (z *Noise) Len() int { return z.N }

// Label returns LabelValue.
func (z *Noise) Label(int) int { return z.LabelValue }

// Shape returns the image shape.
func (z *Noise) Shape() (int, int, int) { return z.C, z.H, z.W }

// Image returns item i quantized to 8 bits; the loader uses Float instead.
func (z *Noise) Image(i int) (*Image, error) {
	f := make([]float32, z.C*z.H*z.W)
	_ = z.Float(i, f)
	m := NewImage(z.C, z.H, z.W)
	for k, v := range f {
		m.Pix[k] = uint8(v * 256)
	}
	return m, nil
}

// Float writes item i's values into dst.
func (z *Noise) Float(i int, dst []float32) error {
	n := z.C * z.H * z.W
	if len(dst) < n {
		return fmt.Errorf("data: Noise.Float: dst has %d elements, need %d", len(dst), n)
	}
	r := rand.New(rand.NewPCG(z.Seed, uint64(i)*0x9e3779b97f4a7c15+1))
	for k := 0; k < n; k++ {
		// 24 random bits: exactly representable, so never rounds up to 1.
		dst[k] = float32(r.Uint32()>>8) / (1 << 24)
	}
	return nil
}
