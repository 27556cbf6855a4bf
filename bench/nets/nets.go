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

// InputShape returns the per-image input shape an encoder type takes: 1×28×28
// for mnist-conv, 3×32×32 (CIFAR) for the others.
func InputShape(encType string) []int {
	if encType == "mnist-conv" {
		return []int{1, 28, 28}
	}
	return []int{3, 32, 32}
}

// Net is a model with a fixed random batch, ready to time: Train for a
// training step, Infer for an evaluation-mode forward pass.
type Net struct {
	Model  *backbone.Model
	X      *tensor.Tensor // [B, ...InputShape]
	Labels []int          // balanced, NumClasses classes (training only)
	Opt    *nn.SGD        // training only
	rng    *rand.Rand     // the reparameterization noise
	// FwdFLOPs and TrainFLOPs count, per image, what nets.py counts: 2 per
	// multiply-add of every Conv2d and Linear; a training step is forward +
	// weight gradients (= forward) + input gradients (= forward, except the
	// first layer, whose input needs none).
	FwdFLOPs, TrainFLOPs float64
}

// New builds encType's model with the latent heads, a random batch of the
// given size and, when train is set, the balanced labels (batch a multiple
// of NumClasses, at least two images each) and nets.py's SGD;
// the model is in training mode for train and in evaluation mode otherwise.
func New(encType string, batch int, train bool, seed uint64) (*Net, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch size %d, want at least 1", batch)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	m, err := backbone.NewModel(encType, LatentDim, rng)
	if err != nil {
		return nil, err
	}
	in := append([]int{batch}, InputShape(encType)...)
	n := &Net{Model: m, X: tensor.Randn(rng, in...), rng: rng}
	n.FwdFLOPs, n.TrainFLOPs, err = countFLOPs(m, InputShape(encType))
	if err != nil {
		return nil, err
	}
	nn.SetTraining(m, train)
	if train {
		if n.Labels, err = BalancedLabels(batch, NumClasses); err != nil {
			return nil, err
		}
		if batch < 2*NumClasses {
			return nil, fmt.Errorf("batch size %d: the triplet loss needs at least 2 images of each of the %d classes", batch, NumClasses)
		}
		if n.Opt, err = nn.NewSGD(nn.Parameters(m), nn.SGDOptions{LR: LR, Momentum: Momentum}); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Train runs one training step: forward through the encoder and both heads,
// z = mu + exp(logvar/2)·eps with fresh noise, the stand-in loss, backward
// and the SGD update. It returns the loss.
func (n *Net) Train() float32 {
	n.Opt.ZeroGrad()
	mu, logvar := n.Model.Encode(autograd.Const(n.X))
	eps := autograd.Const(tensor.Randn(n.rng, mu.Shape()...))
	z := autograd.Add(mu, autograd.Mul(autograd.Exp(autograd.MulScalar(logvar, 0.5)), eps))
	loss := TripletKLLoss(z, n.Labels, NumClasses)
	if err := loss.Backward(); err != nil {
		panic(err) // a fresh graph always differentiates
	}
	n.Opt.Step()
	return loss.Value().Item()
}

// Infer runs the evaluation-mode forward pass (encoder and the mu head, as
// nets.py returns out[0]) without recording a graph, and returns one output
// value so the work cannot be skipped.
func (n *Net) Infer() float32 {
	var v float32
	autograd.NoGrad(func() {
		v = n.Model.Forward(autograd.Const(n.X)).Value().At(0, 0)
	})
	return v
}

// countFLOPs walks the model like nets.py's forward hooks: one image through
// the encoder layer by layer, counting each Conv2d and Linear.
func countFLOPs(m *backbone.Model, in []int) (fwd, train float64, err error) {
	var recs []float64
	var walk func(mod nn.Module, x *autograd.Var) (*autograd.Var, error)
	walk = func(mod nn.Module, x *autograd.Var) (*autograd.Var, error) {
		switch l := mod.(type) {
		case *nn.Sequential:
			for _, c := range l.Layers {
				var err error
				if x, err = walk(c, x); err != nil {
					return nil, err
				}
			}
			return x, nil
		case *nn.Conv2d:
			y := l.Forward(x)
			w := l.Weight.Shape()
			recs = append(recs, 2*float64(w[0]*w[1]*w[2]*w[3])*float64(y.Shape()[2]*y.Shape()[3]))
			return y, nil
		case *nn.Linear:
			recs = append(recs, 2*float64(l.In*l.Out))
			return l.Forward(x), nil
		}
		if len(nn.Children(mod)) > 0 {
			return nil, fmt.Errorf("nets: cannot count the FLOPs of a %T (a container other than Sequential)", mod)
		}
		return mod.Forward(x), nil
	}
	autograd.NoGrad(func() {
		nn.SetTraining(m, false)
		defer nn.SetTraining(m, true)
		var h *autograd.Var
		if h, err = walk(m.Enc, autograd.Const(tensor.Zeros(append([]int{1}, in...)...))); err == nil {
			_, err = walk(m.Mu, h)
		}
		if err == nil {
			_, err = walk(m.Logvar, h)
		}
	})
	if err != nil {
		return 0, 0, err
	}
	for _, r := range recs {
		fwd += r
	}
	return fwd, 3*fwd - recs[0], nil
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
	total, _ := nn.NumParams(n.Model)
	return &Result{
		Bench: bench, EncType: encType, BatchSize: batch, Threads: threads,
		ImagesPS: float64(batch) / med, GFLOPS: flop / med / 1e9, PeakRSSMB: PeakRSSMB(),
		SecMedian: med, SecMin: times[0], SecMax: times[len(times)-1], GFLOPStep: flop / 1e9,
		Steps: len(times), Warmup: o.Warmup, Dirty: len(noisy), ForeignMax: foreignMax, Used: used,
		Params: total, Loss: float64(loss),
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
