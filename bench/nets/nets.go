package nets

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/tensor"
)

// Hyperparameters of nets.py's training step.
const (
	// NumClasses is the number of classes of the balanced stand-in labels.
	NumClasses = 10
	// LatentDim is the width of the mu and logvar heads.
	LatentDim = 32
	// LR and Momentum are nets.py's torch.optim.SGD(lr=0.01, momentum=0.9),
	// which has no Nesterov momentum and no weight decay.
	LR       = 0.01
	Momentum = 0.9
)

// InputShape returns the per-image input shape an encoder type takes, as
// nn/backbone's registry has it: 1×28×28 for mnist-conv, 3×32×32 (CIFAR)
// for the others, and for names the registry does not have.
func InputShape(encType string) []int {
	if e, ok := backbone.LookupEncoder(encType); ok {
		return e.InputShape()
	}
	return []int{3, 32, 32}
}

// Net is a model with a fixed random batch, ready to time: Train for a
// training step, Infer for an evaluation-mode forward pass. As in nets.py,
// mnist-conv is timed with the latent heads and the triplet+KL stand-in loss
// (Model), the CIFAR encoders bare, with the mean-square stand-in loss on
// their output h (Model nil).
type Net struct {
	// Timed is what a step runs and SGD updates: Model for mnist-conv, the
	// bare encoder otherwise; its parameters are nets.py's params.
	Timed  nn.Module
	Model  *backbone.Model // mnist-conv only
	X      *tensor.Tensor  // [B, ...InputShape]
	Labels []int           // balanced, NumClasses classes (training only)
	Opt    *nn.SGD         // training only
	rng    *rand.Rand      // the reparameterization noise
	// FwdFLOPs and TrainFLOPs count, per image, what nets.py counts: 2 per
	// multiply-add of every Conv2d and Linear; a training step is forward +
	// weight gradients (= forward) + input gradients (= forward, except the
	// first layer, whose input needs none).
	FwdFLOPs, TrainFLOPs float64
}

// New builds what nets.py times for encType (mnist-conv with the latent
// heads, a CIFAR encoder alone), a random batch of the given size and, when
// train is set, nets.py's SGD and, for mnist-conv, the balanced labels
// (batch a multiple of NumClasses, at least two images each); the model is
// in training mode for train and in evaluation mode otherwise.
func New(encType string, batch int, train bool, seed uint64) (*Net, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch size %d, want at least 1", batch)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	n := &Net{rng: rng}
	if encType == "mnist-conv" {
		m, err := backbone.NewModel(encType, LatentDim, rng)
		if err != nil {
			return nil, err
		}
		n.Model, n.Timed = m, m
	} else {
		enc, _, err := backbone.NewEncoder(encType, rng)
		if err != nil {
			return nil, err
		}
		n.Timed = enc
	}
	in := append([]int{batch}, InputShape(encType)...)
	n.X = tensor.Randn(rng, in...)
	var err error
	n.FwdFLOPs, n.TrainFLOPs, err = countFLOPs(n.Timed, InputShape(encType))
	if err != nil {
		return nil, err
	}
	nn.SetTraining(n.Timed, train)
	if train {
		if n.Model == nil {
			n.Opt, err = nn.NewSGD(nn.Parameters(n.Timed), nn.SGDOptions{LR: LR, Momentum: Momentum})
			return n, err
		}
		if n.Labels, err = BalancedLabels(batch, NumClasses); err != nil {
			return nil, err
		}
		if batch < 2*NumClasses {
			return nil, fmt.Errorf("batch size %d: the triplet loss needs at least 2 images of each of the %d classes", batch, NumClasses)
		}
		if n.Opt, err = nn.NewSGD(nn.Parameters(n.Timed), nn.SGDOptions{LR: LR, Momentum: Momentum}); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// ToDevice moves the net, its optimizer state and its batch to device d
// (nn.ToDevice, Tensor.MoveTo): the steps then run there.
func (n *Net) ToDevice(d tensor.Device) {
	if n.Opt != nil {
		nn.ToDevice(n.Timed, d, n.Opt)
	} else {
		nn.ToDevice(n.Timed, d)
	}
	n.X.MoveTo(d)
}

// Train runs one training step and returns the loss. For mnist-conv:
// forward through the encoder and both heads, z = mu + exp(logvar/2)·eps
// with fresh noise, the triplet+KL stand-in loss; for a CIFAR encoder:
// mean(h²) over its output h. Then backward and the SGD update.
func (n *Net) Train() float32 {
	n.Opt.ZeroGrad()
	// The step's activations go back to the cache for the next step's, as
	// ovd's training loop does.
	mark := tensor.AllocMark()
	if n.Model == nil {
		loss := autograd.Mean(autograd.Square(n.Timed.Forward(autograd.Const(n.X))), false)
		if err := loss.Backward(autograd.RecycleValues(mark)); err != nil {
			panic(err) // a fresh graph always differentiates
		}
		n.Opt.Step()
		return loss.Value().Item()
	}
	mu, logvar := n.Model.Encode(autograd.Const(n.X))
	// The noise is drawn on the host, as on the CPU, and uploaded.
	eps := tensor.Randn(n.rng, mu.Shape()...)
	if d := mu.Value().Device(); d != tensor.CPU {
		eps = eps.To(d)
	}
	z := autograd.Add(mu, autograd.Mul(autograd.Exp(autograd.MulScalar(logvar, 0.5)), autograd.Const(eps)))
	loss := TripletKLLoss(z, n.Labels, NumClasses)
	if err := loss.Backward(autograd.RecycleValues(mark)); err != nil {
		panic(err) // a fresh graph always differentiates
	}
	n.Opt.Step()
	return loss.Value().Item()
}

// Infer runs the evaluation-mode forward pass (for mnist-conv the encoder
// and the mu head, as nets.py returns out[0]; for a CIFAR encoder its h)
// without recording a graph, and returns one output value so the work
// cannot be skipped.
func (n *Net) Infer() float32 {
	var v float32
	autograd.NoGrad(func() {
		v = n.Timed.Forward(autograd.Const(n.X)).Value().At(0, 0)
	})
	return v
}

// countFLOPs counts, per image, what nets.py's forward hooks count: one
// image goes through the network layer by layer in evaluation mode, and
// every Conv2d and Linear adds 2 per multiply-add, in the order they run.
// The first recorded layer (the stem) gets no input gradient in training.
func countFLOPs(m nn.Module, in []int) (fwd, train float64, err error) {
	var recs []float64
	autograd.NoGrad(func() {
		nn.SetTraining(m, false)
		defer nn.SetTraining(m, true)
		_, err = flopWalk(m, autograd.Const(tensor.Zeros(append([]int{1}, in...)...)), &recs)
	})
	if err != nil {
		return 0, 0, err
	}
	if len(recs) == 0 {
		return 0, 0, fmt.Errorf("nets: %T has no Conv2d or Linear layer to count", m)
	}
	for _, r := range recs {
		fwd += r
	}
	return fwd, 3*fwd - recs[0], nil
}

// shortcutNames are the children of a residual block that take the block's
// input (or its pre-activation, of the same shape) rather than the previous
// child's output: torchvision's "downsample", the reference's WideResNet
// BasicBlock "convShortcut".
var shortcutNames = map[string]bool{"downsample": true, "convShortcut": true}

// flopWalk records the Conv2d and Linear FLOPs of mod applied to x and
// returns its output. Sequentials run child by child. Another container
// (a residual or dense block, a whole backbone) is walked as its children
// in registration order, each on the previous one's output, except
// shortcuts, which take the container's input; that is how every block of
// the five backbones runs, up to shape-preserving steps (ReLU, residual
// add, concatenation feeding the next layer). The container's own output
// then comes from its real Forward, so that what its children do not show
// (a dense block's concatenation, a transition's average pool, the global
// pool) shapes the next layer's input.
func flopWalk(mod nn.Module, x *autograd.Var, recs *[]float64) (*autograd.Var, error) {
	switch l := mod.(type) {
	case *nn.Sequential:
		for _, c := range l.Layers {
			var err error
			if x, err = flopWalk(c, x, recs); err != nil {
				return nil, err
			}
		}
		return x, nil
	case *nn.Conv2d:
		y := l.Forward(x)
		w := l.Weight.Shape()
		*recs = append(*recs, 2*float64(w[0]*w[1]*w[2]*w[3])*float64(y.Shape()[2]*y.Shape()[3]))
		return y, nil
	case *nn.Linear:
		*recs = append(*recs, 2*float64(l.In*l.Out))
		return l.Forward(x), nil
	case *backbone.MnistConv:
		y, err := flopWalk(l.Convs, x, recs)
		if err != nil {
			return nil, err
		}
		return flopWalk(l.DecLayer, autograd.Flatten(y, 1, 3), recs)
	case *backbone.CifarConv:
		y, err := flopWalk(l.Convs, x, recs)
		if err != nil {
			return nil, err
		}
		return flopWalk(l.DecLayer, autograd.Flatten(y, 1, 3), recs)
	case *backbone.MnistMLP:
		// Its Forward flattens the image before the Sequential.
		return flopWalk(l.Layers, autograd.Flatten(x, 1, 3), recs)
	case *backbone.Model:
		// Both heads take h; the returned value (mu) is not used further.
		h, err := flopWalk(l.Enc, x, recs)
		if err == nil {
			_, err = flopWalk(l.Logvar, h, recs)
		}
		if err == nil {
			_, err = flopWalk(l.Mu, h, recs)
		}
		return h, err
	}
	kids := nn.Children(mod)
	if len(kids) == 0 {
		return mod.Forward(x), nil
	}
	y := x
	for _, c := range kids {
		if d, ok := mod.(*backbone.DenseNet); ok && c.Value == nn.Module(d.FC) {
			// The reference's classifier, in the state_dict but not in
			// h's forward (nets.py's DenseNetBC has none).
			continue
		}
		in := y
		if shortcutNames[c.Name] {
			in = x
		}
		out, err := flopWalk(c.Value, in, recs)
		if err != nil {
			return nil, err
		}
		if !shortcutNames[c.Name] {
			y = out
		}
	}
	return mod.Forward(x), nil
}

// Result is one benchmark's JSON line.
type Result struct {
	Bench     string  `json:"bench"` // "train-step" or "infer"
	EncType   string  `json:"enc_type"`
	BatchSize int     `json:"batch_size"`
	Threads   int     `json:"threads"`
	ImagesPS  float64 `json:"images_per_s"` // median step
	GFLOPS    float64 `json:"gflops"`       // median step
	PeakRSSMB float64 `json:"peak_rss_mb"`  // of the whole process, VmHWM, MiB
	SecMedian float64 `json:"s_med"`
	SecMin    float64 `json:"s_min"`
	SecMax    float64 `json:"s_max"`
	GFLOPStep float64 `json:"gflop_per_step"`
	Steps     int     `json:"steps"` // steps the median is taken over
	Warmup    int     `json:"warmup"`
	// Dirty counts the steps discarded because other processes used at
	// least Options.Clean cores meanwhile; ForeignMax is the most such load
	// among the kept steps; Used is "ungated", "clean", or "all-noisy" when
	// fewer than 3 clean steps came within the budget (then the median is
	// over every step taken).
	Dirty      int     `json:"dirty"`
	ForeignMax float64 `json:"foreign_max"`
	Used       string  `json:"used"`
	Params     int     `json:"params"`
	Loss       float64 `json:"loss,omitempty"` // training: the last step's loss
	// Device is where the steps ran ("cpu", "cuda:0").
	Device string `json:"device"`
	// Profile is the per-step time by category, with Options.Profile.
	Profile []ProfileEntry `json:"profile,omitempty"`
	// Convs is the per-step time of each convolution shape and direction,
	// with Options.Profile, in decreasing time.
	Convs []ConvEntry `json:"convs,omitempty"`
}

// ConvEntry is one convolution shape in one direction of a profiled run.
type ConvEntry struct {
	Op        string  `json:"op"`    // "conv forward", "conv input grad", "conv weight grad"
	Shape     string  `json:"shape"` // "NxCxHxW kK KHxKW sS pP", e.g. "128x64x32x32 k64 3x3 s1 p1"
	MsPerStep float64 `json:"ms_per_step"`
	Calls     int     `json:"calls_per_step"`
	// GFLOPS counts the direct convolution's arithmetic whatever algorithm
	// ran (tensor.ConvTime.FLOPs); PeakFraction is GFLOPS over
	// Options.PeakGFLOPS, when that is given.
	GFLOPS       float64 `json:"gflops"`
	PeakFraction float64 `json:"peak_fraction,omitempty"`
}

// convEntries turns the profile's convolution entries of steps steps into
// per-step ones.
func convEntries(p *tensor.OpProfile, steps int, peak float64) []ConvEntry {
	var out []ConvEntry
	for _, c := range p.Convs() {
		s := c.Shape
		e := ConvEntry{
			Op:        c.Op,
			Shape:     fmt.Sprintf("%dx%dx%dx%d k%d %dx%d s%d p%d", s.N, s.C, s.H, s.W, s.K, s.KH, s.KW, s.SH, s.PH),
			MsPerStep: c.Time.Seconds() * 1e3 / float64(steps),
			Calls:     c.Calls / steps,
			GFLOPS:    c.GFLOPS(),
		}
		if peak > 0 {
			e.PeakFraction = e.GFLOPS / peak
		}
		out = append(out, e)
	}
	return out
}

// Options say how many steps Run times and how it copes with other
// processes.
type Options struct {
	Steps  int // timed steps wanted
	Warmup int // untimed steps first
	// Clean, when positive, gates the steps as nets.py does by default
	// (0.25): before each step wait (at most 30 s) for other processes to
	// use fewer than Clean cores, and keep only steps during which they did;
	// stop after Budget even with fewer than Steps clean steps.
	Clean  float64
	Budget time.Duration
	// Profile times the backend primitives of the timed steps by category
	// (tensor.StartProfile) and reports them per step in Result.Profile,
	// the convolutions also by shape in Result.Convs.
	Profile bool
	// PeakGFLOPS, when positive, is the machine's FMA peak for the threads
	// used (../shared/anchors/fma_peak.c), to report each convolution's
	// fraction of it.
	PeakGFLOPS float64
	// Device is where the net, its optimizer state and the batch live
	// during the steps (the zero value is the CPU); a step's loss value is
	// its one download, which also waits for the device to finish.
	Device tensor.Device
}

// ProfileEntry is one category of a profiled run: the mean time per step
// and its share of the mean step.
type ProfileEntry struct {
	Op        string  `json:"op"`
	MsPerStep float64 `json:"ms_per_step"`
	Share     float64 `json:"share"`
	Calls     int     `json:"calls_per_step"`
}

// profileEntries turns the profile of steps steps that took stepSec
// seconds in all into per-step entries, with what the backend primitives
// do not account for (the autograd bookkeeping, Go code between the ops,
// the collector) as the last one.
func profileEntries(p *tensor.OpProfile, steps int, stepSec float64) []ProfileEntry {
	var out []ProfileEntry
	var timed float64
	for _, t := range p.Times() {
		sec := t.Time.Seconds() / float64(steps)
		timed += sec
		out = append(out, ProfileEntry{Op: t.Op, MsPerStep: sec * 1e3, Share: sec / (stepSec / float64(steps)), Calls: t.Calls / steps})
	}
	rest := stepSec/float64(steps) - timed
	return append(out, ProfileEntry{Op: "outside the backend", MsPerStep: rest * 1e3, Share: rest / (stepSec / float64(steps))})
}

// Run builds the net, runs the warm-up steps and then timed ones, and
// reports the median. bench is "train-step" or "infer"; threads is only
// recorded here (the caller sets the kernels' thread count).
func Run(bench, encType string, batch, threads int, o Options) (*Result, error) {
	if o.Steps < 1 || o.Warmup < 0 || o.Clean < 0 {
		return nil, fmt.Errorf("steps %d, warm-up %d, clean %v: want at least one timed step and no negative value", o.Steps, o.Warmup, o.Clean)
	}
	var train bool
	switch bench {
	case "train-step":
		train = true
	case "infer":
	default:
		return nil, fmt.Errorf("unknown benchmark %q (want train-step or infer)", bench)
	}
	n, err := New(encType, batch, train, 1)
	if err != nil {
		return nil, err
	}
	n.ToDevice(o.Device)
	var loss float32
	step := func() {
		if train {
			loss = n.Train()
		} else {
			n.Infer()
		}
	}
	for range o.Warmup {
		step()
	}
	var prof *tensor.OpProfile
	var profSec float64
	profSteps := 0
	if o.Profile {
		var stop func()
		prof, stop = tensor.StartProfile(o.Device)
		defer stop()
	}
	var times, noisy []float64
	var foreignMax float64
	used := "ungated"
	t0 := time.Now()
	for len(times) < o.Steps {
		if o.Clean > 0 {
			used = "clean"
			if time.Since(t0) > o.Budget && len(times)+len(noisy) >= 3 {
				break
			}
			waitQuiet(o.Clean, 30*time.Second)
		}
		m := startForeign()
		s0 := time.Now()
		step()
		dt := time.Since(s0).Seconds()
		profSec += dt
		profSteps++
		if f := m.cores(); o.Clean > 0 && f >= o.Clean {
			noisy = append(noisy, dt)
			continue
		} else {
			foreignMax = max(foreignMax, f)
		}
		times = append(times, dt)
	}
	if len(times) < 3 && len(noisy) > 0 {
		used = "all-noisy"
		times = append(times, noisy...)
	}
	slices.Sort(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (times[len(times)/2-1] + med) / 2
	}
	flop := n.FwdFLOPs
	if train {
		flop = n.TrainFLOPs
	}
	flop *= float64(batch)
	total, _ := nn.NumParams(n.Timed)
	var profile []ProfileEntry
	var convs []ConvEntry
	if prof != nil {
		profile = profileEntries(prof, profSteps, profSec)
		convs = convEntries(prof, profSteps, o.PeakGFLOPS)
	}
	return &Result{
		Bench: bench, EncType: encType, BatchSize: batch, Threads: threads,
		ImagesPS: float64(batch) / med, GFLOPS: flop / med / 1e9, PeakRSSMB: PeakRSSMB(),
		SecMedian: med, SecMin: times[0], SecMax: times[len(times)-1], GFLOPStep: flop / 1e9,
		Steps: len(times), Warmup: o.Warmup, Dirty: len(noisy), ForeignMax: foreignMax, Used: used,
		Params: total, Loss: float64(loss), Profile: profile, Convs: convs, Device: o.Device.String(),
	}, nil
}

// PeakRSSMB returns the process's peak resident set size in MiB from
// /proc/self/status (VmHWM), the figure /usr/bin/time -v prints in kbytes
// divided by 1024, or 0 where /proc is unavailable.
func PeakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseFloat(f[0], 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	return 0
}
