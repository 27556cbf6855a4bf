package ovd

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/safetensors"
)

// fakeMNIST writes a small MNIST-format dataset (IDX files, 28x28, ten
// classes whose images differ in brightness) so that training runs need
// no downloaded data.
func fakeMNIST(t *testing.T, train, test int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "mnist"), 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	write := func(prefix string, n int) {
		img := []byte{0, 0, 8, 3}
		img = binary.BigEndian.AppendUint32(img, uint32(n))
		img = binary.BigEndian.AppendUint32(img, 28)
		img = binary.BigEndian.AppendUint32(img, 28)
		lab := []byte{0, 0, 8, 1}
		lab = binary.BigEndian.AppendUint32(lab, uint32(n))
		for i := range n {
			c := i % 10
			lab = append(lab, byte(c))
			for range 28 * 28 {
				img = append(img, byte(c*20+rng.IntN(40)))
			}
		}
		for name, b := range map[string][]byte{prefix + "-images-idx3-ubyte": img, prefix + "-labels-idx1-ubyte": lab} {
			if err := os.WriteFile(filepath.Join(dir, "mnist", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("train", train)
	write("t10k", test)
	return dir
}

// fakeConfig is the paper's MNIST command line on the fake dataset, with
// noise as the unknown set.
func fakeConfig(t *testing.T, dataDir string, epochs int) Config {
	cfg := mnistConfig(dataDir, filepath.Join(t.TempDir(), "run"), 0, 40, epochs)
	cfg.UnknownDataset, cfg.BatchSize, cfg.Threads = "noise", 40, 1
	return cfg
}

// rewriteCheckpoint copies the safetensors file src to dst after edit has
// changed its tensors or metadata.
func rewriteCheckpoint(t *testing.T, src, dst string, edit func(ts []safetensors.Tensor, meta map[string]string)) {
	t.Helper()
	f, err := safetensors.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	edit(f.Tensors, f.Metadata)
	if err := safetensors.WriteFile(dst, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
}

// TestResumeDeletesOnlyItsOwnFiles resumes from a crafted checkpoint whose
// best list names a file outside the run folder (the old "path" field), a
// best checkpoint of the run it came from, and, by epoch and F1, the name
// of a file in the new run's folder that the run did not write. Training
// on until best checkpoints are dropped must delete none of them, and must
// delete the dropped best checkpoints the resumed run wrote itself.
func TestResumeDeletesOnlyItsOwnFiles(t *testing.T) {
	data := fakeMNIST(t, 200, 60)
	ctx := context.Background()
	a := fakeConfig(t, data, 3)
	resA, err := Train(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resA.Best) == 0 {
		t.Fatal("run A kept no best checkpoint")
	}
	victim := filepath.Join(t.TempDir(), "precious.txt")
	os.WriteFile(victim, []byte("keep me"), 0o644)

	b := fakeConfig(t, data, 9)
	bDir := filepath.Join(b.OutputDir, "checkpoints")
	os.MkdirAll(bDir, 0o755)
	foreign := filepath.Join(bDir, bestName(0, 0))
	os.WriteFile(foreign, []byte("not written by this run"), 0o644)
	crafted := filepath.Join(t.TempDir(), "crafted.safetensors")
	rewriteCheckpoint(t, resA.LastCheckpoint, crafted, func(_ []safetensors.Tensor, meta map[string]string) {
		var st map[string]any
		json.Unmarshal([]byte(meta[metaState]), &st)
		st["best"] = []map[string]any{
			{"path": victim, "epoch": 0, "f1": 0.0},
			{"path": resA.Best[0].Path, "epoch": resA.Best[0].Epoch, "f1": 0.0},
		}
		js, _ := json.Marshal(st)
		meta[metaState] = string(js)
	})
	b.Resume = crafted
	resB, err := Train(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []string{victim, foreign, resA.LastCheckpoint, resA.Best[0].Path} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s is gone after the resumed run: %v", keep, err)
		}
	}
	// B validated epochs 3..8 and keeps three; the rest it wrote are gone.
	files, _ := filepath.Glob(filepath.Join(bDir, "epoch-*.safetensors"))
	own := 0
	for _, f := range files {
		if f != foreign {
			own++
		}
	}
	if own != 3 || len(resB.Best) != 3 {
		t.Errorf("resumed run left %d of its own best files (%v) and lists %d, want 3 and 3", own, files, len(resB.Best))
	}
	for _, bc := range resB.Best {
		if filepath.Dir(bc.Path) != bDir {
			t.Errorf("best checkpoint %s is outside the run's folder %s", bc.Path, bDir)
		}
	}

	// A best list no run writes is refused before anything happens.
	bogus := filepath.Join(t.TempDir(), "bogus.safetensors")
	rewriteCheckpoint(t, resA.LastCheckpoint, bogus, func(_ []safetensors.Tensor, meta map[string]string) {
		// The run keeps three: rename the first to an epoch it never ran.
		meta[metaState] = regexp.MustCompile(`"best":\[\{"epoch":\d+`).ReplaceAllString(meta[metaState], `"best":[{"epoch":99`)
	})
	c := fakeConfig(t, data, 4)
	c.Resume = bogus
	if _, err := Train(ctx, c, nil); err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "epoch 99") {
		t.Errorf("crafted best list: %v, want an input error naming epoch 99", err)
	}
	if _, err := os.Stat(c.OutputDir); !os.IsNotExist(err) {
		t.Errorf("the refused run left its output folder behind: %v", err)
	}
}

// TestNonFiniteWeightsRefused resumes and tests from a checkpoint with one
// NaN weight: both must say so, naming the tensor, as an input error.
func TestNonFiniteWeightsRefused(t *testing.T) {
	data := fakeMNIST(t, 200, 60)
	ctx := context.Background()
	a := fakeConfig(t, data, 1)
	resA, err := Train(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	nanCk := filepath.Join(t.TempDir(), "nan.safetensors")
	name := ""
	rewriteCheckpoint(t, resA.LastCheckpoint, nanCk, func(ts []safetensors.Tensor, _ map[string]string) {
		for i := range ts {
			if strings.HasSuffix(ts[i].Name, ".weight") && ts[i].DType == safetensors.F32 && !strings.HasPrefix(ts[i].Name, "optimizer") {
				binary.LittleEndian.PutUint32(ts[i].Data[4:], math.Float32bits(float32(math.NaN())))
				name = ts[i].Name
				return
			}
		}
	})
	if name == "" {
		t.Fatal("no float32 weight in the checkpoint")
	}
	resume := fakeConfig(t, data, 2)
	resume.Resume = nanCk
	_, err = Train(ctx, resume, nil)
	if err == nil || !IsInputError(err) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "not finite") {
		t.Errorf("resume from NaN weights: %v, want an input error naming %s", err, name)
	}
	warm := fakeConfig(t, data, 1)
	warm.CheckpointPath = nanCk
	_, err = Train(ctx, warm, nil)
	if err == nil || !IsInputError(err) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "--checkpoint_path") {
		t.Errorf("warm start from NaN weights: %v, want an input error naming %s and --checkpoint_path", err, name)
	}
	test := fakeConfig(t, data, 1)
	test.CheckpointPath = nanCk
	_, err = Test(ctx, test, nil)
	if err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "not finite") || strings.Contains(err.Error(), "positive definite") {
		t.Errorf("test with NaN weights: %v, want an input error saying the weights are not finite", err)
	}
}

// TestDivergedTrainingStops trains with a learning rate that overflows the
// weights: training must stop with an error on the first non-finite loss,
// keep last.safetensors of the last completed epoch (finite) and keep no
// NaN model as best.
func TestDivergedTrainingStops(t *testing.T) {
	data := fakeMNIST(t, 200, 60)
	cfg := fakeConfig(t, data, 5)
	cfg.LR = 1e30
	res, err := Train(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "diverged") {
		t.Fatalf("training at lr 1e30: %v, want a divergence error", err)
	}
	t.Log(err)
	last := filepath.Join(cfg.OutputDir, "checkpoints", "last.safetensors")
	if _, statErr := os.Stat(last); statErr == nil {
		if !strings.Contains(err.Error(), last) {
			t.Errorf("error %q does not name the last good checkpoint %s", err, last)
		}
		m, _ := buildModel(&cfg)
		if _, _, err := nn.LoadCheckpoint(last, m, false); err != nil {
			t.Fatal(err)
		}
		if err := nn.CheckFinite(m); err != nil {
			t.Errorf("last.safetensors holds non-finite weights: %v", err)
		}
	}
	for _, b := range res.Best {
		if math.IsNaN(b.F1) {
			t.Errorf("a NaN model was kept as best: %+v", b)
		}
	}
}

// TestResumeCleansDebris checks that a resumed run removes the temporary
// files a crash left in its checkpoints folder and, once it has saved the
// epoch it was interrupted in, the stale interrupted.safetensors.
func TestResumeCleansDebris(t *testing.T) {
	data := fakeMNIST(t, 200, 60)
	cfg := fakeConfig(t, data, 2)
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := Train(cctx, cfg, func(e Event) {
		if e.Phase == "train" && e.Epoch == 2 && e.Step == 1 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	dir := filepath.Join(cfg.OutputDir, "checkpoints")
	if _, err := os.Stat(res.InterruptedCheckpoint); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".last.safetensors.tmp-123456")
	os.WriteFile(tmp, []byte("half a checkpoint"), 0o644)
	keep := filepath.Join(dir, "notes.tmp-1")
	os.WriteFile(keep, []byte("the user's"), 0o644)

	cfg.Resume = res.LastCheckpoint
	if _, err := Train(context.Background(), cfg, nil); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{tmp, res.InterruptedCheckpoint} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the resumed run (%v)", gone, err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a file not of the writers' pattern was removed: %v", err)
	}
}

// TestTrainAEInterruptKeepsLastEpoch cancels train-ae in its second epoch:
// ae.safetensors must still be the first epoch's file, and the mid-epoch
// weights go to interrupted.safetensors.
func TestTrainAEInterruptKeepsLastEpoch(t *testing.T) {
	data := fakeMNIST(t, 64, 10)
	cfg := fakeConfig(t, data, 3)
	cfg.BatchSize, cfg.LR = 16, 1e-3
	ae := filepath.Join(cfg.OutputDir, "ae.safetensors")
	var afterEpoch1 []byte
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := TrainAE(cctx, cfg, func(e Event) {
		if e.Epoch == 1 && e.EpochEnd {
			afterEpoch1, _ = os.ReadFile(ae)
		}
		if e.Epoch == 2 && e.Step == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || !res.Interrupted {
		t.Fatalf("cancelled train-ae: %v", err)
	}
	now, _ := os.ReadFile(ae)
	if len(afterEpoch1) == 0 || !bytes.Equal(now, afterEpoch1) {
		t.Errorf("ae.safetensors changed after the interruption (%d bytes, epoch-1 file %d bytes)", len(now), len(afterEpoch1))
	}
	mid, err := os.ReadFile(res.InterruptedPath)
	if err != nil || bytes.Equal(mid, afterEpoch1) {
		t.Errorf("interrupted.safetensors: %v (equal to epoch 1: %v)", err, bytes.Equal(mid, afterEpoch1))
	}
}

// TestLoadAutoencoderWithoutMetadata: an autoencoder file without the
// ae_type that train-ae records (a PyTorch checkpoint of the reference's,
// converted or read directly) is recognised from its layers, and a file of
// other layers is refused naming the flag.
func TestLoadAutoencoderWithoutMetadata(t *testing.T) {
	dir := t.TempDir()
	for kind, ae := range map[string]nn.Module{
		"mnist":    backboneAE(t, "mnist"),
		"resnet18": backboneAE(t, "resnet18"),
	} {
		p := filepath.Join(dir, kind+".safetensors")
		if err := nn.SaveCheckpoint(p, ae, nil); err != nil {
			t.Fatal(err)
		}
		got, err := LoadAutoencoder(p)
		if err != nil {
			t.Fatalf("%s without ae_type: %v", kind, err)
		}
		if k, _ := aeKindOf(got); k != kind {
			t.Errorf("file of the %s autoencoder loaded as %q", kind, k)
		}
	}
	other := filepath.Join(dir, "linear.safetensors")
	nn.SaveCheckpoint(other, nn.NewLinear(rand.New(rand.NewPCG(1, 1)), 3, 2, true), nil)
	if _, err := LoadAutoencoder(other); err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "--ae_path") {
		t.Errorf("a Linear layer as --ae_path: %v, want an input error naming the flag", err)
	}
}

func backboneAE(t *testing.T, kind string) nn.Module {
	ae, err := newAutoencoder(kind, rand.New(rand.NewPCG(2, 3)))
	if err != nil {
		t.Fatal(err)
	}
	return ae
}
