package nets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/tensor"
	"github.com/vmdls-go/vmdls/tensor/fakedevice"
)

// nets.py prints "fwd MFLOP/img=222.88 train MFLOP/img=667.21" for mnist;
// these are its exact integers (2 per multiply-add of the five convs, the
// 900->500 linear and the two 500->32 heads).
func TestFLOPsMatchNetsPy(t *testing.T) {
	n, err := New("mnist-conv", 20, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n.FwdFLOPs != 222875200 || n.TrainFLOPs != 667214400 {
		t.Errorf("FLOPs per image: forward %.0f, train %.0f; nets.py counts 222875200 and 667214400", n.FwdFLOPs, n.TrainFLOPs)
	}
	if total, _ := nn.NumParams(n.Model); total != 843964 {
		t.Errorf("%d parameters, nets.py has 843964", total)
	}
}

func TestTrainStepUpdatesAndInferIsDeterministic(t *testing.T) {
	n, err := New("mnist-conv", 20, true, 2)
	if err != nil {
		t.Fatal(err)
	}
	before := n.Model.Mu.Weight.Value().Clone()
	first := n.Model.Enc.(*backbone.MnistConv).Convs.Layers[0].(*nn.Conv2d).Weight.Value().Clone()
	loss := n.Train()
	if math.IsNaN(float64(loss)) || loss <= 0 {
		t.Fatalf("loss %v", loss)
	}
	n.Train() // the momentum buffers now take part
	for name, pair := range map[string][2]interface{ Data() []float32 }{
		"fc_mu.weight":             {before, n.Model.Mu.Weight.Value()},
		"encoder.encoder.0.weight": {first, n.Model.Enc.(*backbone.MnistConv).Convs.Layers[0].(*nn.Conv2d).Weight.Value()},
	} {
		a, b := pair[0].Data(), pair[1].Data()
		same := true
		for i := range a {
			same = same && a[i] == b[i]
		}
		if same {
			t.Errorf("%s unchanged by two SGD steps", name)
		}
	}

	inf, err := New("mnist-conv", 4, false, 3)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := inf.Infer(), inf.Infer(); a != b || math.IsNaN(float64(a)) {
		t.Errorf("two inference passes give %v and %v", a, b)
	}
}

func TestRun(t *testing.T) {
	r, err := Run("train-step", "mnist-conv", 20, 1, Options{Steps: 2, Warmup: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Bench != "train-step" || r.Used != "ungated" || r.Dirty != 0 || r.BatchSize != 20 || r.Steps != 2 || !(r.ImagesPS > 0) || !(r.GFLOPS > 0) ||
		r.SecMin > r.SecMedian || r.SecMedian > r.SecMax || math.Abs(r.GFLOPStep-13.344288) > 1e-9 {
		t.Errorf("result %+v", r)
	}
	if PeakRSSMB() > 0 && r.PeakRSSMB <= 0 {
		t.Errorf("peak RSS %v", r.PeakRSSMB)
	}
	for _, bad := range []struct {
		bench, enc   string
		batch, steps int
		want         string
	}{
		{"train-step", "vgg-99", 10, 1, "mnist-conv, vgg, resnet18"},
		{"train-step", "mnist-conv", 15, 1, "multiple"},
		{"train-step", "mnist-conv", 10, 1, "at least 2 images"},
		{"infer", "mnist-conv", 0, 1, "batch size"},
		{"infer", "mnist-conv", 4, 0, "timed step"},
		{"backprop", "mnist-conv", 10, 1, "train-step or infer"},
	} {
		_, err := Run(bad.bench, bad.enc, bad.batch, 1, Options{Steps: bad.steps})
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Run(%q, %q, batch %d, steps %d): error %v, want one mentioning %q", bad.bench, bad.enc, bad.batch, bad.steps, err, bad.want)
		}
	}
}

// A profiled run's per-shape convolution entries add up to the per-category
// ones, each at the rate its time gives and its fraction of the given peak;
// the input layer (the images need no gradient) has no input gradient.
func TestRunProfileConvs(t *testing.T) {
	r, err := Run("train-step", "mnist-conv", 20, 1, Options{Steps: 2, Warmup: 1, Profile: true, PeakGFLOPS: 50})
	if err != nil {
		t.Fatal(err)
	}
	ms, calls := map[string]float64{}, map[string]int{}
	for _, c := range r.Convs {
		ms[c.Op] += c.MsPerStep
		calls[c.Op] += c.Calls
		if c.Calls < 1 || !(c.MsPerStep > 0) || !(c.GFLOPS > 0) || math.Abs(c.PeakFraction-c.GFLOPS/50) > 1e-12 {
			t.Errorf("entry %+v", c)
		}
		if c.Op == "conv input grad" && strings.HasPrefix(c.Shape, "20x1x28x28 ") {
			t.Errorf("input layer with an input gradient: %+v", c)
		}
	}
	for _, e := range r.Profile {
		if !strings.HasPrefix(e.Op, "conv ") {
			continue
		}
		if math.Abs(ms[e.Op]-e.MsPerStep) > 1e-6*e.MsPerStep || calls[e.Op] != e.Calls {
			t.Errorf("%s: shapes sum to %v ms in %d calls, the category has %v in %d", e.Op, ms[e.Op], calls[e.Op], e.MsPerStep, e.Calls)
		}
		delete(ms, e.Op)
	}
	if len(ms) != 0 || len(r.Convs) == 0 {
		t.Errorf("per-shape directions without a category: %v (%d entries)", ms, len(r.Convs))
	}
}

func TestRunGated(t *testing.T) {
	// No machine has 1000 cores of other load: every step is clean, and
	// the gate's 1-second quiet check passes at once.
	r, err := Run("infer", "mnist-conv", 2, 1, Options{Steps: 2, Clean: 1000, Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if r.Used != "clean" || r.Dirty != 0 || r.Steps != 2 || r.ForeignMax < 0 {
		t.Errorf("gated run: %+v", r)
	}
}

// TestCIFARFLOPsMatchNetsPy compares the per-image counts with what
//
//	OPENBLAS_NUM_THREADS=2 /usr/bin/python3 ../shared/anchors/nets.py --model M --mode train --batch 128 --threads 2 --baseline
//
// prints ("params=... fwd MFLOP/img=... train MFLOP/img=..."), and the
// parameter counts with its params=. wresnet (36M parameters, 10 GFLOP an
// image) is left to the long run.
func TestCIFARFLOPsMatchNetsPy(t *testing.T) {
	for _, tc := range []struct {
		enc        string
		fwd, train string // nets.py's MFLOP/img, as printed
		params     int
	}{
		{"resnet18", "1110.84", "3328.97", 11168832},
		{"vgg", "919.99", "2756.44", 8569600},
		{"densenet", "575.85", "1726.23", 765732},
		{"wresnet", "10486.64", "31459.05", 36472784},
	} {
		if tc.enc == "wresnet" && testing.Short() {
			continue
		}
		n, err := New(tc.enc, 1, true, 1)
		if err != nil {
			t.Fatal(err)
		}
		fwd, train := fmt.Sprintf("%.2f", n.FwdFLOPs/1e6), fmt.Sprintf("%.2f", n.TrainFLOPs/1e6)
		if fwd != tc.fwd || train != tc.train {
			t.Errorf("%s: MFLOP per image forward %s, train %s; nets.py prints %s and %s", tc.enc, fwd, train, tc.fwd, tc.train)
		}
		total, _ := nn.NumParams(n.Timed)
		if d, ok := n.Timed.(*backbone.DenseNet); ok {
			// nets.py's DenseNetBC lacks the reference's classifier, which
			// h does not use.
			fc, _ := nn.NumParams(d.FC)
			total -= fc
		}
		if total != tc.params {
			t.Errorf("%s: %d parameters, nets.py has %d", tc.enc, total, tc.params)
		}
		if n.Model != nil || n.Labels != nil || n.Opt == nil {
			t.Errorf("%s: want the bare encoder with SGD and no labels", tc.enc)
		}
	}
}

// TestCIFARTrainStep runs the mean-square stand-in step on a DenseNet-BC
// small enough for CI (depth 10) through the same code path as the full
// backbones, and checks that the loss is mean(h²) and falls.
func TestCIFARTrainStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	enc := backbone.NewDenseNetBC(rng, 10, 4, 0.5)
	n := &Net{Timed: enc, X: tensor.Randn(rng, 4, 3, 32, 32), rng: rng}
	nn.SetTraining(enc, true)
	var err error
	if n.Opt, err = nn.NewSGD(nn.Parameters(enc), nn.SGDOptions{LR: LR, Momentum: Momentum}); err != nil {
		t.Fatal(err)
	}
	var want float64
	autograd.NoGrad(func() {
		for _, v := range enc.Forward(autograd.Const(n.X)).Value().Data() {
			want += float64(v) * float64(v)
		}
	})
	want /= float64(4 * enc.OutDim())
	first := n.Train()
	if math.Abs(float64(first)-want) > 1e-4*want {
		t.Errorf("first loss %v, mean(h²) of a training-mode pass is %v", first, want)
	}
	var last float32
	for range 3 {
		last = n.Train()
	}
	if !(last < first) {
		t.Errorf("loss %v after 3 more steps, first %v", last, first)
	}
	if a, b := n.Infer(), n.Infer(); a != b {
		t.Errorf("two inference passes give %v and %v", a, b)
	}
}

// TestStepsOnAnotherDevice runs nets.py's training step and inference on
// the fake device (host memory behind a storage type of its own, so any
// host access to a device tensor panics) and checks them against the CPU:
// the same loss and output bits, which is what lets the GPU run the same
// benchmark as the CPU, with the step's storage released as it would be
// there.
func TestStepsOnAnotherDevice(t *testing.T) {
	for _, enc := range []string{"mnist-conv", "resnet18"} {
		batch := 20
		cpu, err := New(enc, batch, true, 7)
		if err != nil {
			t.Fatal(err)
		}
		dev, _ := New(enc, batch, true, 7)
		dev.ToDevice(fakedevice.Device)
		for i := range 2 {
			fakedevice.Reset()
			if c, d := cpu.Train(), dev.Train(); c != d {
				t.Fatalf("%s step %d: loss %v on the fake device, %v on the CPU", enc, i, d, c)
			}
			// The step's activations and gradients went back to the device
			// as backward released them (a use after that would panic).
			if r := fakedevice.Counters().Released; r < 10 {
				t.Fatalf("%s step %d: %d storages released, want the step's activations", enc, i, r)
			}
		}
		ci, _ := New(enc, 4, false, 7)
		di, _ := New(enc, 4, false, 7)
		di.ToDevice(fakedevice.Device)
		if c, d := ci.Infer(), di.Infer(); c != d {
			t.Fatalf("%s inference: %v on the fake device, %v on the CPU", enc, d, c)
		}
	}
}
