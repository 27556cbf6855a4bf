package backbone

import (
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
	"github.com/vmdls-go/vmdls/tensor/fakedevice"
)

// publishedEncoders are the five encoders of the paper's experiments.
var publishedEncoders = []string{"mnist-conv", "vgg", "resnet18", "densenet", "wresnet"}

// TestFakeDeviceForwardBackward runs each published encoder with its latent
// heads forward and backward, in training mode (batch statistics, dropout),
// on the fake device and on the CPU from the same weights and batch: the
// outputs, every gradient and the batch-norm buffers must be bit-identical,
// and any host access to a device tensor on the way panics (the fake
// device's storage is not a []float32). The only upload is the batch
// (dropout's counter-based masks are made on the device); there is no
// download.
func TestFakeDeviceForwardBackward(t *testing.T) {
	for _, enc := range publishedEncoders {
		t.Run(enc, func(t *testing.T) {
			info, _ := LookupEncoder(enc)
			cpu, err := NewModel(enc, 3, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			dev, _ := NewModel(enc, 3, rand.New(rand.NewPCG(1, 2)))
			nn.ToDevice(dev, fakedevice.Device)
			if nn.ModuleDevice(dev) != fakedevice.Device {
				t.Fatalf("ToDevice left the model on %v", nn.ModuleDevice(dev))
			}
			for _, e := range nn.StateDict(dev) {
				if e.Value.Device() != fakedevice.Device {
					t.Fatalf("%s stayed on %v", e.Name, e.Value.Device())
				}
			}
			x := tensor.Randn(rand.New(rand.NewPCG(3, 4)), append([]int{2}, info.InputShape()...)...)
			run := func(m *Model, x *tensor.Tensor) (mu, lv *autograd.Var) {
				reseed(m)
				mu, lv = m.Encode(autograd.Const(x))
				loss := autograd.Add(autograd.Sum(autograd.Square(mu), false), autograd.Sum(lv, false))
				if err := loss.Backward(); err != nil {
					t.Fatal(err)
				}
				return mu, lv
			}
			cmu, clv := run(cpu, x)
			fakedevice.Reset()
			xd := x.To(fakedevice.Device)
			dmu, dlv := run(dev, xd)
			s := fakedevice.Counters()
			if !fakedevice.SameBits(dmu.Value(), cmu.Value()) || !fakedevice.SameBits(dlv.Value(), clv.Value()) {
				t.Fatalf("mu or logvar differ from the CPU's")
			}
			cs, ds := nn.NamedParameters(cpu), nn.NamedParameters(dev)
			graded := 0
			for i := range cs {
				if (cs[i].Value.Grad() == nil) != (ds[i].Value.Grad() == nil) {
					t.Fatalf("%s: a gradient on one device only", cs[i].Name)
				}
				if cs[i].Value.Grad() == nil {
					continue // densenet's classifier, which h does not use
				}
				graded++
				if ds[i].Value.Grad().Device() != fakedevice.Device || !fakedevice.SameBits(ds[i].Value.Grad(), cs[i].Value.Grad()) {
					t.Fatalf("%s: gradient differs from the CPU's", cs[i].Name)
				}
			}
			if graded < len(cs)-2 {
				t.Fatalf("only %d of %d parameters have a gradient", graded, len(cs))
			}
			cb, db := nn.NamedBuffers(cpu), nn.NamedBuffers(dev)
			for i := range cb {
				if !fakedevice.SameBits(db[i].Value, cb[i].Value) {
					t.Fatalf("buffer %s differs from the CPU's", cb[i].Name)
				}
			}
			if s.Downloads != 0 {
				t.Errorf("forward and backward downloaded %d times (%d floats, largest %d)", s.Downloads, s.DownloadElems, s.MaxDownload)
			}
			if s.Uploads != 1 || s.UploadElems != int64(x.Numel()) {
				t.Errorf("%d uploads of %d floats; want the batch's %d only", s.Uploads, s.UploadElems, x.Numel())
			}
			t.Logf("%s: uploads %d (%d floats, largest %d), downloads %d", enc, s.Uploads, s.UploadElems, s.MaxUpload, s.Downloads)
		})
	}
}

// reseed gives every dropout layer of m the same fresh generator, so that
// the CPU and device runs draw the same masks.
func reseed(m nn.Module) {
	i := uint64(0)
	var walk func(nn.Module)
	walk = func(m nn.Module) {
		if d, ok := m.(*nn.Dropout); ok {
			d.Rng = rand.New(rand.NewPCG(77, i))
			i++
		}
		for _, c := range nn.Children(m) {
			walk(c.Value)
		}
	}
	walk(m)
}

// TestFakeDeviceInferChunked runs InferChunked of a model on the fake
// device over a host batch, in chunks: the features must be the CPU's bit
// for bit and stay on the device, each chunk is one upload, and nothing
// comes back to the host.
func TestFakeDeviceInferChunked(t *testing.T) {
	for _, enc := range []string{"mnist-conv", "resnet18"} {
		info, _ := LookupEncoder(enc)
		cpu, _ := NewModel(enc, 3, rand.New(rand.NewPCG(1, 2)))
		dev, _ := NewModel(enc, 3, rand.New(rand.NewPCG(1, 2)))
		nn.SetTraining(cpu, false)
		nn.SetTraining(dev, false)
		nn.ToDevice(dev, fakedevice.Device)
		x := tensor.Randn(rand.New(rand.NewPCG(7, 8)), append([]int{3}, info.InputShape()...)...)
		want, err := cpu.InferChunked(x, 2)
		if err != nil {
			t.Fatal(err)
		}
		fakedevice.Reset()
		got, err := dev.InferChunked(x, 2)
		if err != nil {
			t.Fatal(err)
		}
		s := fakedevice.Counters()
		if s.Downloads != 0 || s.Uploads != 2 || s.UploadElems != int64(x.Numel()) {
			t.Errorf("%s: transfers %+v, want the two chunks up and nothing down", enc, s)
		}
		pairs := [][2]*tensor.Tensor{{got.H, want.H}, {got.Mu, want.Mu}, {got.Taps[0], want.Taps[0]}, {got.Taps[1], want.Taps[1]}, {got.Taps[2], want.Taps[2]}}
		for i, p := range pairs {
			if p[0].Device() != fakedevice.Device || !fakedevice.SameBits(p[0], p[1]) {
				t.Fatalf("%s: feature %d differs from the CPU's or left the device", enc, i)
			}
		}
	}
}
