package ovd

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/safetensors"
)

// firstStep records the first training step's loss parts, margin and
// learning rate of a run.
type firstStep struct {
	seen                 bool
	loss, margin, lr, kl float64
}

func (f *firstStep) observe(e Event) {
	if e.Phase == "train" && e.Step == 1 && !e.EpochEnd && !f.seen {
		f.seen = true
		f.loss, f.margin, f.lr, f.kl = e.Values["loss"], e.Values["neg_margin"], e.Values["lr"], e.Values["kl"]
	}
}

// sameTensors fails unless the safetensors files a and b hold the same
// tensors, bit for bit.
func sameTensors(t *testing.T, what, a, b string) {
	t.Helper()
	fa, err := safetensors.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := safetensors.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(fa.Tensors) != len(fb.Tensors) {
		t.Errorf("%s: %d tensors against %d", what, len(fa.Tensors), len(fb.Tensors))
	}
	for _, ta := range fa.Tensors {
		tb, ok := fb.Get(ta.Name)
		if !ok {
			t.Errorf("%s: %s is missing from %s", what, ta.Name, b)
			continue
		}
		if !bytes.Equal(ta.Data, tb.Data) {
			t.Errorf("%s: %s differs", what, ta.Name)
		}
	}
}

// sameModelWeights fails unless m's state_dict equals the file's tensors
// of the same names bit for bit (file keys outside m are not compared).
func sameModelWeights(t *testing.T, what string, m nn.Module, path string) {
	t.Helper()
	ck, err := nn.ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range nn.StateDict(m) {
		x, ok := ck.File.Get(e.Name)
		if !ok {
			t.Fatalf("%s: %s has no %s", what, path, e.Name)
		}
		var want []float32
		if x.DType == safetensors.I64 {
			iv, _ := x.Int64s()
			for _, v := range iv {
				want = append(want, float32(v))
			}
		} else if want, err = x.Float32s(); err != nil {
			t.Fatal(err)
		}
		for i, v := range e.Value.Data() {
			if math.Float32bits(v) != math.Float32bits(want[i]) {
				t.Fatalf("%s: %s[%d] = %v, the file holds %v", what, e.Name, i, v, want[i])
			}
		}
	}
}

// TestWarmStartIsReferenceCheckpointPath is issue 18's item 5: train
// --checkpoint_path starts a new run from the checkpoint's weights as the
// reference's main.py does, at epoch 0 with a fresh optimizer and schedule
// and nu at --margin_max_distance, whatever training state the file
// carries. The run is compared with one that loads the weights by hand
// into a new trainer: the first step's loss and every tensor of the final
// checkpoint (weights, optimizer state, class statistics) must be equal.
func TestWarmStartIsReferenceCheckpointPath(t *testing.T) {
	data := fakeMNIST(t, 200, 60)
	ctx := context.Background()
	// A source run whose state is far from a new run's: its schedule has
	// halved lr twice and nu has jumped twice.
	src := fakeConfig(t, data, 2)
	src.StepSize, src.StepGamma, src.MarginsEpoch = 1, 0.5, 0
	a, err := Train(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}

	warm := fakeConfig(t, data, 1)
	warm.MarginMaxDistance, warm.MarginsEpoch = 5, 1 // epoch 0 trains at nu = 5 exactly
	warm.CheckpointPath = a.LastCheckpoint
	// The trainer as Train builds it: the file's weights, nothing else.
	dir := filepath.Join(t.TempDir(), "checkpoints")
	os.MkdirAll(dir, 0o755)
	tw, err := newTrainer(&warm, nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	sameModelWeights(t, "warm start", tw.model, a.LastCheckpoint)
	if tw.st.Epoch != 0 || tw.st.NegMargin != 5 || tw.st.gaussians != nil || len(tw.st.Best) != 0 || tw.opt.LR(0) != warm.LR {
		t.Errorf("warm start state: epoch %d nu %v gaussians %v best %v lr %v; want epoch 0, nu 5, none, none, lr %v",
			tw.st.Epoch, tw.st.NegMargin, tw.st.gaussians != nil, tw.st.Best, tw.opt.LR(0), warm.LR)
	}

	var got firstStep
	b, err := Train(ctx, warm, got.observe)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Epochs) != 1 || b.Epochs[0].Epoch != 0 || b.Epochs[0].NegMargin != 5 || b.Epochs[0].LR != warm.LR {
		t.Fatalf("warm-started run trained %+v, want epoch 0 at nu 5 and lr %v", b.Epochs, warm.LR)
	}

	// By hand: a new run's trainer, the weights loaded into it, nu set,
	// the optimizer made again over the loaded parameters.
	hand := warm
	hand.CheckpointPath, hand.OutputDir = "", filepath.Join(t.TempDir(), "hand")
	hdir := filepath.Join(hand.OutputDir, "checkpoints")
	os.MkdirAll(hdir, 0o755)
	var want firstStep
	th, err := newTrainer(&hand, want.observe, hdir)
	if err != nil {
		t.Fatal(err)
	}
	if err := loadModelWeights(th.model, a.LastCheckpoint); err != nil {
		t.Fatal(err)
	}
	if err := th.buildOptimizer(); err != nil {
		t.Fatal(err)
	}
	th.st.NegMargin = hand.MarginMaxDistance
	h, err := th.run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got.seen || got != want {
		t.Errorf("first step: warm start %+v, weights loaded by hand %+v", got, want)
	}
	sameTensors(t, "warm start against weights loaded by hand", b.LastCheckpoint, h.LastCheckpoint)

	// A fresh network's first step is another: the weights did matter.
	fresh := hand
	fresh.OutputDir = filepath.Join(t.TempDir(), "fresh")
	var f firstStep
	if _, err := Train(ctx, fresh, f.observe); err != nil {
		t.Fatal(err)
	}
	if f.loss == got.loss {
		t.Errorf("first loss %v both from the checkpoint's weights and from fresh ones", f.loss)
	}

	// With --margins_epoch 0 the reference's UpdateMargin still raises
	// nu once before epoch 0, since nu <= margin_max_distance.
	jump := warm
	jump.OutputDir, jump.MarginsEpoch = filepath.Join(t.TempDir(), "jump"), 0
	r, err := Train(ctx, jump, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Epochs[0].NegMargin != 5+jump.MarginJump {
		t.Errorf("warm start with --margins_epoch 0: epoch 0 at nu %v, want %v", r.Epochs[0].NegMargin, 5+jump.MarginJump)
	}
}

// TestWarmStartFromReferenceCheckpoint starts training from the
// reference's Lightning checkpoint as it is (a .ckpt of a whole mnist-conv
// model, with the frozen autoencoder under "ae." and Adam's state, which
// must be ignored) and from the file vmdls convert makes of it: both load
// the file's weights and train to the same bits. --resume refuses it,
// pointing at --checkpoint_path.
func TestWarmStartFromReferenceCheckpoint(t *testing.T) {
	data := fakeMNIST(t, 200, 60)
	ctx := context.Background()
	ckpt := gunzipTo(t, filepath.Join("..", "torchfile", "testdata", "mnistconv_lightning.ckpt.gz"))
	converted := filepath.Join(t.TempDir(), "converted.safetensors")
	if _, err := ConvertPyTorch(ckpt, converted, ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	var last []string
	for _, p := range []string{ckpt, converted} {
		cfg := fakeConfig(t, data, 1)
		cfg.CheckpointPath = p
		dir := filepath.Join(t.TempDir(), "checkpoints")
		os.MkdirAll(dir, 0o755)
		tr, err := newTrainer(&cfg, nil, dir)
		if err != nil {
			t.Fatalf("warm start from %s: %v", filepath.Base(p), err)
		}
		sameModelWeights(t, filepath.Base(p), tr.model, ckpt)
		res, err := Train(ctx, cfg, nil)
		if err != nil {
			t.Fatalf("training from %s: %v", filepath.Base(p), err)
		}
		if len(res.Epochs) != 1 || res.Epochs[0].Epoch != 0 || res.Epochs[0].NegMargin != cfg.MarginMaxDistance {
			t.Errorf("from %s: epochs %+v, want epoch 0 at nu %v", filepath.Base(p), res.Epochs, cfg.MarginMaxDistance)
		}
		last = append(last, res.LastCheckpoint)
	}
	sameTensors(t, "the .ckpt against its conversion", last[0], last[1])

	for _, p := range []string{ckpt, converted} {
		cfg := fakeConfig(t, data, 1)
		cfg.Resume = p
		_, err := Train(ctx, cfg, nil)
		if err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "--resume") || !strings.Contains(err.Error(), "--checkpoint_path") {
			t.Errorf("--resume %s: %v, want an input error naming --resume and pointing to --checkpoint_path", filepath.Base(p), err)
		}
	}
}

// TestResumeAfterInterruptEqualsUninterrupted interrupts a run in the
// middle of its second epoch and continues it with --resume from the last
// completed epoch's checkpoint: the final checkpoint is the uninterrupted
// run's, bit for bit.
func TestResumeAfterInterruptEqualsUninterrupted(t *testing.T) {
	data := fakeMNIST(t, 200, 60)
	ctx := context.Background()
	straight := fakeConfig(t, data, 3)
	straight.SampleCount, straight.GenerationEpoch = 4, 1 // several steps an epoch; both loss branches
	a, err := Train(ctx, straight, nil)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := straight
	stopped.OutputDir = filepath.Join(t.TempDir(), "run")
	steps := 0
	res, err := Train(cctx, stopped, func(e Event) {
		if e.Phase == "train" && !e.EpochEnd {
			steps = max(steps, e.Steps)
			if e.Epoch == 2 && e.Step == 2 {
				cancel()
			}
		}
	})
	if !errors.Is(err, context.Canceled) || !res.Interrupted || res.LastCheckpoint == "" {
		t.Fatalf("interrupted run: err %v, result %+v", err, res)
	}
	if steps < 3 {
		t.Fatalf("%d steps an epoch: the interruption is not mid-epoch", steps)
	}
	resumed := straight
	resumed.OutputDir, resumed.Resume = stopped.OutputDir, res.LastCheckpoint
	b, err := Train(ctx, resumed, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Epochs) != 2 || b.Epochs[0].Epoch != 1 {
		t.Fatalf("resumed run trained %+v, want epochs 1 and 2", b.Epochs)
	}
	sameTensors(t, "resumed against uninterrupted", a.LastCheckpoint, b.LastCheckpoint)
}

// TestResumeAndCheckpointPathExclusive: one run cannot both continue a
// run and start a new one from weights.
func TestResumeAndCheckpointPathExclusive(t *testing.T) {
	cfg := fakeConfig(t, t.TempDir(), 1)
	cfg.Resume, cfg.CheckpointPath = "a.safetensors", "b.safetensors"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "--resume") || !strings.Contains(err.Error(), "--checkpoint_path") {
		t.Errorf("Validate with both: %v, want an error naming --resume and --checkpoint_path", err)
	}
}

// gunzipTo unpacks the gzipped file src into a temporary file named
// without the .gz.
func gunzipTo(t *testing.T, src string) string {
	t.Helper()
	fh, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), ".gz"))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
