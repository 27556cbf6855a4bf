package fakedevice_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/tensor"
	"github.com/vmdls-go/vmdls/tensor/fakedevice"
)

// bits returns t's values as bit patterns, so that comparisons are exact
// (NaN included).
func bits(t *tensor.Tensor) []uint32 {
	h := t.To(tensor.CPU).Data()
	b := make([]uint32, len(h))
	for i, v := range h {
		b[i] = math.Float32bits(v)
	}
	return b
}

func same(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	if got.Device() != fakedevice.Device {
		t.Fatalf("%s: result on %v, want the fake device", what, got.Device())
	}
	if !slices.Equal(got.Shape(), want.Shape()) || !slices.Equal(bits(got), bits(want)) {
		t.Fatalf("%s: fake device result differs from the CPU's", what)
	}
}

func TestOpsBitIdenticalToCPU(t *testing.T) {
	src := rand.New(rand.NewPCG(1, 2))
	x := tensor.Randn(src, 2, 3, 9, 9)
	w := tensor.Randn(src, 4, 3, 3, 3)
	b := tensor.Randn(src, 4)
	g, be := tensor.Randn(src, 4), tensor.Randn(src, 4)
	rm, rv := tensor.Zeros(4), tensor.Ones(4)
	fx, fw, fb := x.To(fakedevice.Device), w.To(fakedevice.Device), b.To(fakedevice.Device)
	fg, fbe := g.To(fakedevice.Device), be.To(fakedevice.Device)
	frm, frv := rm.To(fakedevice.Device), rv.To(fakedevice.Device)

	y := tensor.Conv2d(x, w, b, [2]int{1, 1}, [2]int{1, 1})
	fy := tensor.Conv2d(fx, fw, fb, [2]int{1, 1}, [2]int{1, 1})
	same(t, "Conv2d", fy, y)
	dx, dw, db := tensor.Conv2dBackward(y, x, w, [2]int{1, 1}, [2]int{1, 1}, true, true, true)
	fdx, fdw, fdb := tensor.Conv2dBackward(fy, fx, fw, [2]int{1, 1}, [2]int{1, 1}, true, true, true)
	same(t, "Conv2dBackward dx", fdx, dx)
	same(t, "Conv2dBackward dw", fdw, dw)
	same(t, "Conv2dBackward db", fdb, db)

	bn, mean, invstd := tensor.BatchNorm2d(y, g, be, rm, rv, true, 0.1, 1e-5)
	fbn, fmean, finvstd := tensor.BatchNorm2d(fy, fg, fbe, frm, frv, true, 0.1, 1e-5)
	same(t, "BatchNorm2d", fbn, bn)
	same(t, "BatchNorm2d running mean", frm, rm)
	same(t, "BatchNorm2d running var", frv, rv)
	bdx, bdg, bdb := tensor.BatchNorm2dBackward(bn, y, mean, invstd, g, true, true, true, true)
	fbdx, fbdg, fbdb := tensor.BatchNorm2dBackward(fbn, fy, fmean, finvstd, fg, true, true, true, true)
	same(t, "BatchNorm2dBackward dx", fbdx, bdx)
	same(t, "BatchNorm2dBackward dgamma", fbdg, bdg)
	same(t, "BatchNorm2dBackward dbeta", fbdb, bdb)

	p, idx := tensor.MaxPool2d(bn, [2]int{2, 2}, [2]int{2, 2}, [2]int{0, 0})
	fp, fidx := tensor.MaxPool2d(fbn, [2]int{2, 2}, [2]int{2, 2}, [2]int{0, 0})
	same(t, "MaxPool2d", fp, p)
	same(t, "MaxPool2dBackward", tensor.MaxPool2dBackward(fp, fidx, fbn.Shape(), [2]int{2, 2}, [2]int{2, 2}, [2]int{0, 0}),
		tensor.MaxPool2dBackward(p, idx, bn.Shape(), [2]int{2, 2}, [2]int{2, 2}, [2]int{0, 0}))
	same(t, "AvgPool2d", tensor.AvgPool2d(fbn, [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}, false),
		tensor.AvgPool2d(bn, [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}, false))

	flat := p.Reshape(2, -1)
	fflat := fp.Reshape(2, -1)
	lw := tensor.Randn(src, 5, flat.Size(1))
	same(t, "Linear", tensor.Linear(fflat, lw.To(fakedevice.Device), nil), tensor.Linear(flat, lw, nil))
	same(t, "LogSoftmax", tensor.LogSoftmax(fflat, 1), tensor.LogSoftmax(flat, 1))
	same(t, "Sum", tensor.Sum(fflat, false, 0), tensor.Sum(flat, false, 0))
	same(t, "Exp of Sub", tensor.Exp(tensor.Sub(fflat, tensor.Scalar(0.5).To(fakedevice.Device))),
		tensor.Exp(tensor.Sub(flat, tensor.Scalar(0.5))))
	v, i := tensor.Max(flat, 1, false)
	fv, fi := tensor.Max(fflat, 1, false)
	same(t, "Max", fv, v)
	if !slices.Equal(fi, i) {
		t.Fatalf("Max indices %v, CPU %v", fi, i)
	}
}

func TestStorageIsNotHostMemory(t *testing.T) {
	f := tensor.Ones(3).To(fakedevice.Device)
	if f.Device().String() != "fake" {
		t.Fatalf("device name %q", f.Device().String())
	}
	err := tensor.Catch(func() { f.Data() })
	if err == nil {
		t.Fatalf("Data on a fake-device tensor did not panic")
	}
}

// TestRecycleReleases checks the fake device's part in recycling, a GPU's:
// its storage is numbered as CPU storage is, Recycle releases it at once,
// once, and any use after that panics.
func TestRecycleReleases(t *testing.T) {
	mark := tensor.AllocMark()
	old := tensor.Ones(3).To(fakedevice.Device)
	if tensor.Recycle(old, tensor.AllocMark()) {
		t.Fatal("Recycle took a storage made before its mark")
	}
	f := tensor.MulScalar(old, 2)
	if !tensor.MadeSince(f, mark) {
		t.Fatal("a storage made after the mark is not MadeSince it")
	}
	fakedevice.Reset()
	if !tensor.Recycle(f, mark) || tensor.Recycle(f, mark) || tensor.MadeSince(f, mark) {
		t.Fatal("Recycle did not take the storage exactly once")
	}
	if got := fakedevice.Counters().Released; got != 1 {
		t.Fatalf("%d releases, want 1", got)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("an op on a recycled storage did not panic")
			}
		}()
		tensor.Add(f, old)
	}()
	if got := tensor.Sum(old, false).Item(); got != 3 {
		t.Fatalf("the older tensor reads %v, want 3", got)
	}
}

func TestCountersAndCPUUntouched(t *testing.T) {
	fakedevice.Reset()
	h := tensor.Arange(10)
	f := h.To(fakedevice.Device) // one upload of 10
	_ = tensor.MulScalar(f, 2)   // on the device: no transfer
	if got := tensor.Sum(f, false).Item(); got != 45 {
		t.Fatalf("Sum = %v", got)
	}
	back := f.To(tensor.CPU) // one download of 10
	_ = tensor.Add(h, back)  // CPU ops are not counted
	s := fakedevice.Counters()
	want := fakedevice.Stats{Uploads: 1, Downloads: 2, UploadElems: 10, DownloadElems: 11, MaxUpload: 10, MaxDownload: 10}
	if s != want {
		t.Fatalf("counters %+v, want %+v", s, want)
	}
	if s.UploadBytes() != 40 || s.DownloadBytes() != 44 {
		t.Fatalf("bytes %d up, %d down", s.UploadBytes(), s.DownloadBytes())
	}
	fakedevice.Reset()
	if fakedevice.Counters() != (fakedevice.Stats{}) {
		t.Fatalf("Reset left %+v", fakedevice.Counters())
	}
	if tensor.CPU.String() != "cpu" || h.Device() != tensor.CPU || len(h.Data()) != 10 {
		t.Fatalf("registering the fake device changed the CPU")
	}
}

func TestMoveToMovesInPlace(t *testing.T) {
	a := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	view := a.Reshape(3, 2)
	fakedevice.Reset()
	if a.MoveTo(fakedevice.Device) != a {
		t.Fatalf("MoveTo did not return its receiver")
	}
	if a.Device() != fakedevice.Device || !slices.Equal(a.Shape(), []int{2, 3}) {
		t.Fatalf("after MoveTo: %v on %v", a.Shape(), a.Device())
	}
	if s := fakedevice.Counters(); s.Uploads != 1 || s.UploadElems != 6 {
		t.Fatalf("the move uploaded %+v", s)
	}
	// Already there: nothing is copied.
	fakedevice.Reset()
	a.MoveTo(fakedevice.Device)
	if s := fakedevice.Counters(); s != (fakedevice.Stats{}) {
		t.Fatalf("a move to the same device transferred %+v", s)
	}
	// A view made before the move keeps the host storage.
	if view.Device() != tensor.CPU || view.Data()[5] != 6 {
		t.Fatalf("the earlier view changed")
	}
	// A moved view (an offset into its storage) keeps its own values.
	row := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3).Slice(1, 2)
	row.MoveTo(fakedevice.Device)
	if got := row.To(tensor.CPU).Data(); !slices.Equal(got, []float32{4, 5, 6}) {
		t.Fatalf("moved view holds %v", got)
	}
	a.MoveTo(tensor.CPU)
	if !slices.Equal(a.Data(), []float32{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("moved back: %v", a.Data())
	}
}

func TestConstructorsOnDevice(t *testing.T) {
	fakedevice.Reset()
	z := tensor.ZerosOn(fakedevice.Device, 2, 2)
	f := tensor.FullOn(fakedevice.Device, 3, 4)
	if s := fakedevice.Counters(); s != (fakedevice.Stats{}) {
		t.Fatalf("ZerosOn/FullOn transferred %+v", s)
	}
	s := tensor.FromSliceOn(fakedevice.Device, []float32{1, 2}, 2)
	if z.Device() != fakedevice.Device || f.Device() != fakedevice.Device || s.Device() != fakedevice.Device {
		t.Fatalf("constructors made tensors off the device")
	}
	if !slices.Equal(z.Host(), []float32{0, 0, 0, 0}) || !slices.Equal(f.Host(), []float32{3, 3, 3, 3}) || !slices.Equal(s.Host(), []float32{1, 2}) {
		t.Fatalf("values %v %v %v", z.Host(), f.Host(), s.Host())
	}
	c := tensor.FromSlice([]float32{7}, 1)
	if &c.Host()[0] != &c.Data()[0] {
		t.Fatalf("Host copies a CPU tensor")
	}
	n := tensor.Scalar(0).To(fakedevice.Device).AddScalarInPlace(1).AddScalarInPlace(1)
	if n.Item() != 2 {
		t.Fatalf("AddScalarInPlace: %v", n.Item())
	}
}

func TestOptimizerStepsBitIdentical(t *testing.T) {
	src := rand.New(rand.NewPCG(5, 6))
	p, g := tensor.Randn(src, 1000), tensor.Randn(src, 1000)
	buf := tensor.Randn(src, 1000)
	m, v, vmax := tensor.Randn(src, 1000), tensor.Rand(src, 1000), tensor.Rand(src, 1000)
	dev := func(t *tensor.Tensor) *tensor.Tensor { return t.To(fakedevice.Device) }
	fp, fg, fbuf, fm, fv, fvmax := dev(p), dev(g), dev(buf), dev(m), dev(v), dev(vmax)
	so := tensor.SGDOptions{WeightDecay: 1e-4, Momentum: 0.9, OneMinusDampening: 1, NegLR: -0.1, Nesterov: true}
	tensor.SGDStep(p, g, buf, so)
	tensor.SGDStep(fp, fg, fbuf, so)
	same(t, "SGDStep p", fp, p)
	same(t, "SGDStep buf", fbuf, buf)
	ao := tensor.AdamOptions{WeightDecay: 1e-2, Beta1: 0.9, Beta2: 0.999, OneMinusBeta1: 0.1, OneMinusBeta2: 0.001,
		NegStep: -0.01, SqrtBiasCorr2: 0.03, Eps: 1e-8}
	tensor.AdamStep(p, g, m, v, vmax, ao)
	tensor.AdamStep(fp, fg, fm, fv, fvmax, ao)
	same(t, "AdamStep p", fp, p)
	same(t, "AdamStep m", fm, m)
	same(t, "AdamStep v", fv, v)
	same(t, "AdamStep vmax", fvmax, vmax)
	if err := tensor.Catch(func() { tensor.SGDStep(p, fg, nil, tensor.SGDOptions{NegLR: -1}) }); err == nil {
		t.Fatalf("SGDStep over two devices did not panic")
	}
	if err := tensor.Catch(func() { tensor.SGDStep(p, g, nil, so) }); err == nil {
		t.Fatalf("SGDStep with momentum and no buffer did not panic")
	}
}
