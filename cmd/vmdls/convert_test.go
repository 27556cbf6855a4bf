package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/safetensors"
	"github.com/vmdls-go/vmdls/tensor"
)

// torchFixture is a file written by PyTorch 1.13
// (torchfile/testdata/gen_fixtures.py).
func torchFixture(name string) string {
	return filepath.Join("..", "..", "torchfile", "testdata", name)
}

func TestConvertCommand(t *testing.T) {
	dir := t.TempDir()
	golden, err := safetensors.ReadFile(torchFixture("golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lightning.ckpt", "snapshot.pth.tar", "plain_legacy.pt"} {
		out := filepath.Join(dir, name+".safetensors")
		var stdout, stderr bytes.Buffer
		if err := run([]string{"convert", torchFixture(name), out}, &stdout, &stderr); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stderr.String())
		}
		if !strings.Contains(stdout.String(), "wrote "+out) {
			t.Errorf("%s: stdout %q", name, stdout.String())
		}
		f, err := safetensors.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range f.Tensors {
			g, ok := golden.Get(name + "/" + x.Name)
			if !ok || !bytes.Equal(g.Data, x.Data) || !slices.Equal(g.Shape, x.Shape) || g.DType != x.DType {
				t.Errorf("%s: %s differs from the golden", name, x.Name)
			}
		}
		if f.Metadata["torch_format"] == "" {
			t.Errorf("%s: metadata %v", name, f.Metadata)
		}
	}
	var stdout bytes.Buffer
	out := filepath.Join(dir, "meta.safetensors")
	if err := run([]string{"convert", "--metadata", "source=ref", "--keep_float64", torchFixture("plain_zip.pt"), out}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if x, _ := f.Get("f64"); x.DType != safetensors.F64 || f.Metadata["source"] != "ref" {
		t.Errorf("f64 is %s, metadata %v", x.DType, f.Metadata)
	}
	for _, n := range []string{"skipped _extra_state", "converted 1 float16 to F32"} {
		if !strings.Contains(stdout.String(), n) {
			t.Errorf("stdout lacks %q:\n%s", n, stdout.String())
		}
	}

	// --prefix takes one module out of a checkpoint, as the reference's
	// autoencoder out of its model.
	stdout.Reset()
	if err := run([]string{"convert", "--prefix", "ae.", torchFixture("lightning.ckpt"), out}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if f, err = safetensors.ReadFile(out); err != nil || len(f.Tensors) != 2 || f.Tensors[0].Name != "weight" || !strings.Contains(stdout.String(), `kept the 2 of 10 keys under "ae."`) {
		t.Errorf("--prefix ae.: %v, %+v\n%s", err, f, stdout.String())
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"convert", "--prefix", "vae.", torchFixture("lightning.ckpt"), filepath.Join(dir, "x.safetensors")}, `no key of`},
		{[]string{"convert", torchFixture("proto4.pt")}, "want IN OUT.safetensors"},
		{[]string{"convert", torchFixture("proto4.pt"), filepath.Join(dir, "x.pt")}, "should end in .safetensors"},
		{[]string{"convert", torchFixture("golden.safetensors"), filepath.Join(dir, "x.safetensors")}, "already a safetensors file"},
		{[]string{"convert", torchFixture("gen_fixtures.py"), filepath.Join(dir, "x.safetensors")}, "not a PyTorch checkpoint"},
		{[]string{"convert", filepath.Join(dir, "none.pt"), filepath.Join(dir, "x.safetensors")}, "no such file"},
		{[]string{"convert", dir, filepath.Join(dir, "x.safetensors")}, "a directory"},
		{[]string{"convert", "--ae_type", "vae", torchFixture("proto4.pt"), filepath.Join(dir, "x.safetensors")}, "--ae_type"},
		{[]string{"convert", out, out}, "both input and output"},
	} {
		err := run(tc.args, io.Discard, io.Discard)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want exit 2 saying %q", tc.args, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.safetensors")); err == nil {
		t.Error("a failed conversion left its output")
	}
}

func TestInfoCheckpoint(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"info", "--checkpoint", torchFixture("lightning.ckpt")}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		`format:       PyTorch zip, state_dict under "state_dict"`,
		"keys:         10 (142 elements): encoder.* 4, fc_mu.* 2, fc_var.* 2, ae.* 2",
		"epoch:        3", "global_step:  120",
		"trained with: --enc_type mnist-conv --latent_dim 4 --class_num 10 (from hyper_parameters)",
		"hyper_parameters:\n  input_height: 28\n  enc_type: \"mnist-conv\"",
		"pytorch-lightning_version: 1.1.2",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("info lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	if err := run([]string{"info", "--json", "--checkpoint", torchFixture("namespace_legacy.ckpt")}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var js struct {
		Format      string         `json:"format"`
		Tensors     int            `json:"tensors"`
		Epoch       int            `json:"epoch"`
		Hyper       map[string]any `json:"hyper_parameters"`
		TrainedWith struct {
			EncType  string `json:"enc_type"`
			ClassNum int    `json:"class_num"`
		} `json:"trained_with"`
	}
	if err := json.Unmarshal(out.Bytes(), &js); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if js.Format != "PyTorch legacy" || js.Tensors != 2 || js.Epoch != 7 || js.Hyper["latent_dim"] != 128.0 || js.TrainedWith.EncType != "vgg" || js.TrainedWith.ClassNum != 10 {
		t.Errorf("info --json: %s", out.String())
	}
	// A vmdls checkpoint says where its settings came from too.
	ck := filepath.Join(t.TempDir(), "ck.safetensors")
	safetensors.WriteFile(ck, []safetensors.Tensor{safetensors.FromFloat32("fc_mu.weight", []int{1, 1}, []float32{1})},
		map[string]string{"vmdls_state": `{"epoch":2,"enc_type":"vgg","latent_dim":1,"class_num":5}`})
	out.Reset()
	if err := run([]string{"info", "--checkpoint", ck}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "--enc_type vgg --latent_dim 1 --class_num 5 (from vmdls_state)") {
		t.Errorf("%v:\n%s", err, out.String())
	}
	if err := run([]string{"info", "--checkpoint", torchFixture("gen_fixtures.py")}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "neither a safetensors file nor a PyTorch checkpoint") {
		t.Errorf("info of a script: %v", err)
	}
}

// TestTorchCheckpointFlags: the flag checks read a reference Lightning
// checkpoint's hyper_parameters, so one of another network or class count
// is refused before any work, as a vmdls checkpoint would be.
func TestTorchCheckpointFlags(t *testing.T) {
	ck := mnistConvCheckpoint(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"test", "--checkpoint_path", ck, "--enc_type", "vgg", "--enc_out_dim", "1024", "--input_height", "32", "--known_dataset", "cifar_known"},
			"holds a mnist-conv model but --enc_type is vgg"},
		{append([]string{"test", "--checkpoint_path", ck, "--class_num", "5", "--batch_classes", "5"}, mnistArgs...), "--class_num 10, not 5"},
		{[]string{"test", "--checkpoint_path", ck, "--enc_type", "mnist-conv", "--enc_out_dim", "500", "--latent_dim", "16"}, "--latent_dim 32, not 16"},
		{append([]string{"test", "--checkpoint_path", ck, "--ae_features", "--ae_path", ck}, mnistArgs...), "is not an autoencoder"},
		{append([]string{"test", "--checkpoint_path", torchFixture("plain_zip.pt")}, mnistArgs...), "plain_zip.pt"},
	} {
		err := run(tc.args, io.Discard, io.Discard)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want exit 2 saying %q", tc.args, err, tc.want)
		}
	}
	// A truncated PyTorch file is named with its problem.
	b, _ := os.ReadFile(ck)
	cut := filepath.Join(t.TempDir(), "cut.ckpt")
	os.WriteFile(cut, b[:len(b)/2], 0o644)
	err := run(append([]string{"test", "--checkpoint_path", cut}, mnistArgs...), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), cut) || !strings.Contains(err.Error(), "not a valid zip archive") {
		t.Errorf("truncated: %v", err)
	}
}

// mnistConvCheckpoint unpacks the Lightning-style checkpoint of a whole
// mnist-conv model that PyTorch wrote.
func mnistConvCheckpoint(t *testing.T) string {
	t.Helper()
	return gunzipFixture(t, "mnistconv_lightning.ckpt.gz")
}

// gunzipFixture unpacks the gzipped PyTorch fixture name into a temporary
// file named without the .gz.
func gunzipFixture(t *testing.T, name string) string {
	t.Helper()
	fh, err := os.Open(torchFixture(name))
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
	p := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".gz"))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mnistConvTwin builds, without reading the PyTorch file, the model whose
// weights gen_fixtures.py's mnistconv_weight gave it (integer arithmetic
// and a power-of-two scale, so the bits are the same), and saves it as a
// vmdls checkpoint.
func mnistConvTwin(t *testing.T) (*backbone.Model, string) {
	t.Helper()
	m, err := backbone.NewModel("mnist-conv", 32, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	fillFixtureWeights(m)
	p := filepath.Join(t.TempDir(), "twin.safetensors")
	if err := nn.SaveCheckpoint(p, m, nil); err != nil {
		t.Fatal(err)
	}
	return m, p
}

// fillFixtureWeights gives tensor j of m's state_dict the weights
// gen_fixtures.py's mnistconv_weight(j, ...) gives it.
func fillFixtureWeights(m nn.Module) {
	for j, e := range nn.StateDict(m) {
		v := e.Value.Data()
		for k := range v {
			i := int64(k) + 1000*int64(j)
			v[k] = float32((7*i*i+13*i)%1021-510) * (1.0 / (1 << 15))
		}
	}
}

// sameBits fails the test unless every entry of want is in got, named
// prefix plus its name, with the same float32 bits.
func sameBits(t *testing.T, what string, got []safetensors.Tensor, prefix string, want []nn.Named[*tensor.Tensor]) {
	t.Helper()
	byName := map[string]safetensors.Tensor{}
	for _, x := range got {
		byName[x.Name] = x
	}
	for _, e := range want {
		x, ok := byName[prefix+e.Name]
		if !ok {
			t.Fatalf("%s lacks %s%s", what, prefix, e.Name)
		}
		a, err := x.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for k, w := range e.Value.Data() {
			if math.Float32bits(a[k]) != math.Float32bits(w) {
				t.Fatalf("%s: %s%s[%d] = %v, want %v", what, prefix, e.Name, k, a[k], w)
			}
		}
	}
}

// TestPyTorchWeightsAndAE: --weights and --ae_path take the reference's
// kinds of PyTorch file directly, as --checkpoint_path does: a
// legacy-format .pth.tar fine-tuning snapshot of the mnist-conv encoder
// (keys prefixed "module." by DataParallel) and a Lightning .ckpt of the
// MNIST autoencoder, both written by PyTorch 1.13. The fine-tuned run's
// checkpoint holds the snapshot's weights bit for bit (--finetune keeps
// the encoder frozen in the first epoch), and the autoencoder scores
// exactly as its converted file and as its twin built here.
func TestPyTorchWeightsAndAE(t *testing.T) {
	twin, twinPath := mnistConvTwin(t)
	data := fakeMNISTDir(t, 200, 60)
	common := append([]string{"--data_dir", data, "--known_dataset", "mnist", "--unknown_dataset", "noise", "--data_transforms", "mnist",
		"--input_height", "28", "--class_num", "10", "--unknown_limit", "60", "--threads", "2", "--seed", "5"}, mnistArgs...)

	snap := gunzipFixture(t, "mnistconv_encoder.pth.tar.gz")
	out := filepath.Join(t.TempDir(), "train")
	var stderr bytes.Buffer
	if err := run(append([]string{"train", "--weights", snap, "--finetune", "--max_epochs", "1", "--sample_count", "4", "--output_dir", out}, common...), io.Discard, &stderr); err != nil {
		t.Fatalf("vmdls train --weights %s: %v\n%s", filepath.Base(snap), err, stderr.String())
	}
	last, err := safetensors.ReadFile(filepath.Join(out, "checkpoints", "last.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "last.safetensors after --weights "+filepath.Base(snap), last.Tensors, "encoder.", nn.StateDict(twin.Enc))

	aeCkpt := gunzipFixture(t, "mnistae_lightning.ckpt.gz")
	ae := backbone.NewMnistAE(rand.New(rand.NewPCG(5, 5)))
	if _, _, err := nn.LoadCheckpoint(aeCkpt, ae, true); err != nil {
		t.Fatalf("strict load of the autoencoder's .ckpt: %v", err)
	}
	aeTwin := backbone.NewMnistAE(rand.New(rand.NewPCG(6, 6)))
	fillFixtureWeights(aeTwin)
	sd := nn.StateDict(ae)
	got := make([]safetensors.Tensor, len(sd))
	for i, e := range sd {
		got[i] = safetensors.FromFloat32(e.Name, e.Value.Shape(), e.Value.Data())
	}
	sameBits(t, filepath.Base(aeCkpt), got, "", nn.StateDict(aeTwin))
	dir := t.TempDir()
	aeTwinPath, aeConverted := filepath.Join(dir, "ae_twin.safetensors"), filepath.Join(dir, "ae_converted.safetensors")
	if err := nn.SaveCheckpoint(aeTwinPath, aeTwin, nil); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"convert", aeCkpt, aeConverted}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	scores := map[string][]byte{}
	for name, p := range map[string]string{"ckpt": aeCkpt, "converted": aeConverted, "twin": aeTwinPath} {
		o := filepath.Join(dir, "test-"+name)
		stderr.Reset()
		if err := run(append([]string{"test", "--checkpoint_path", twinPath, "--ae_features", "--ae_path", p, "--output_dir", o}, common...), io.Discard, &stderr); err != nil {
			t.Fatalf("vmdls test --ae_path %s: %v\n%s", filepath.Base(p), err, stderr.String())
		}
		if scores[name], err = os.ReadFile(filepath.Join(o, "scores.csv")); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(string(scores["ckpt"]), "recon_weight") {
		t.Fatalf("scores.csv has no reconstruction weights:\n%.200s", scores["ckpt"])
	}
	for _, other := range []string{"converted", "twin"} {
		if !bytes.Equal(scores["ckpt"], scores[other]) {
			t.Errorf("scores.csv with --ae_path %s differs from the .ckpt's", other)
		}
	}
}

// fakeMNISTDir writes a small MNIST-format dataset whose classes differ in
// brightness, so that a test needs no downloaded data.
func fakeMNISTDir(t *testing.T, train, test int) string {
	t.Helper()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "mnist"), 0o755)
	rng := rand.New(rand.NewPCG(3, 4))
	for prefix, n := range map[string]int{"train": train, "t10k": test} {
		img := binary.BigEndian.AppendUint32([]byte{0, 0, 8, 3}, uint32(n))
		img = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(img, 28), 28)
		lab := binary.BigEndian.AppendUint32([]byte{0, 0, 8, 1}, uint32(n))
		for i := range n {
			c := i % 10
			lab = append(lab, byte(c))
			for range 28 * 28 {
				img = append(img, byte(c*20+rng.IntN(40)))
			}
		}
		os.WriteFile(filepath.Join(dir, "mnist", prefix+"-images-idx3-ubyte"), img, 0o644)
		os.WriteFile(filepath.Join(dir, "mnist", prefix+"-labels-idx1-ubyte"), lab, 0o644)
	}
	return dir
}

// TestLightningCheckpointEndToEnd is the check: a Lightning-style
// .ckpt written by PyTorch 1.13 runs through `vmdls test --checkpoint_path
// X.ckpt` unchanged and scores exactly as the same weights saved as a
// vmdls checkpoint, both the twin built here without reading the PyTorch
// file and the file `vmdls convert X.ckpt` writes. The weights are first
// compared bit for bit, then one forward pass, then every output file of
// the three runs.
func TestLightningCheckpointEndToEnd(t *testing.T) {
	ckpt := mnistConvCheckpoint(t)
	twin, twinPath := mnistConvTwin(t)
	m, err := backbone.NewModel("mnist-conv", 32, rand.New(rand.NewPCG(9, 9)))
	if err != nil {
		t.Fatal(err)
	}
	c, rep, err := nn.LoadCheckpoint(ckpt, m, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Loaded) != 16 || len(rep.Missing) != 0 || strings.Join(rep.Unexpected, ",") != "ae.weight,ae.bias" || c.Metadata["epoch"] != "19" {
		t.Fatalf("report %+v, metadata %v", rep, c.Metadata)
	}
	want := nn.StateDict(twin)
	for i, e := range nn.StateDict(m) {
		a, b := e.Value.Data(), want[i].Value.Data()
		for k := range a {
			if math.Float32bits(a[k]) != math.Float32bits(b[k]) {
				t.Fatalf("%s[%d] = %v, want %v", e.Name, k, a[k], b[k])
			}
		}
	}
	x := make([]float32, 4*28*28)
	for i := range x {
		x[i] = float32(i%97) / 97
	}
	ya, yb := forwardMu(m, x, 4), forwardMu(twin, x, 4)
	if !slices.Equal(ya, yb) {
		t.Fatalf("forward passes differ: %v vs %v", ya[:4], yb[:4])
	}

	converted := filepath.Join(t.TempDir(), "converted.safetensors")
	if err := run([]string{"convert", ckpt, converted}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}

	data := fakeMNISTDir(t, 200, 60)
	outs := map[string]string{}
	for name, ck := range map[string]string{"ckpt": ckpt, "safetensors": twinPath, "converted": converted} {
		out := filepath.Join(t.TempDir(), name)
		args := append([]string{"test", "--checkpoint_path", ck, "--output_dir", out, "--data_dir", data,
			"--known_dataset", "mnist", "--unknown_dataset", "noise", "--data_transforms", "mnist", "--input_height", "28",
			"--class_num", "10", "--unknown_limit", "60", "--threads", "2", "--seed", "5"}, mnistArgs...)
		var stderr bytes.Buffer
		if err := run(args, io.Discard, &stderr); err != nil {
			t.Fatalf("vmdls test --checkpoint_path %s: %v\n%s", filepath.Base(ck), err, stderr.String())
		}
		outs[name] = out
	}
	var ra map[string]any
	json.Unmarshal([]byte(readFile(t, filepath.Join(outs["ckpt"], "results.json"))), &ra)
	for _, other := range []string{"safetensors", "converted"} {
		for _, f := range []string{"scores.csv", "scores-latent.csv", "roc.csv", "thresholds.csv"} {
			a, errA := os.ReadFile(filepath.Join(outs["ckpt"], f))
			b, errB := os.ReadFile(filepath.Join(outs[other], f))
			if errA != nil || errB != nil || !bytes.Equal(a, b) || len(a) == 0 {
				t.Errorf("%s differs between the .ckpt and the %s runs (%v, %v)", f, other, errA, errB)
			}
		}
		var rb map[string]any
		json.Unmarshal([]byte(readFile(t, filepath.Join(outs[other], "results.json"))), &rb)
		for _, k := range []string{"auroc", "macro_f1", "known_accuracy", "tnr_at_tpr95", "aupr_in"} {
			ja, _ := json.Marshal(ra[k])
			jb, _ := json.Marshal(rb[k])
			if ra[k] == nil || string(ja) != string(jb) {
				t.Errorf("results.json %s: %s (.ckpt) vs %s (%s)", k, ja, jb, other)
			}
		}
	}
	t.Logf("auroc %v, macro_f1 %v (all three runs)", ra["auroc"], ra["macro_f1"])
}

// forwardMu is the model's embedding of n images x in evaluation mode.
func forwardMu(m *backbone.Model, x []float32, n int) []float32 {
	nn.SetTraining(m, false)
	var out []float32
	autograd.NoGrad(func() {
		out = m.Forward(autograd.Const(tensor.FromSlice(x, n, 1, 28, 28))).Value().Data()
	})
	return out
}
