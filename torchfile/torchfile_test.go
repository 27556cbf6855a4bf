package torchfile

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/safetensors"
)

// The fixtures, written by PyTorch 1.13 with testdata/gen_fixtures.py.
var fixtures = []struct {
	file       string
	format     Format
	sdKey      string
	stripped   string
	tensors    int
	wantedMeta map[string]string
}{
	{"plain_zip.pt", Zip, "", "", 24, map[string]string{"torch_skipped_keys": "_extra_state"}},
	{"plain_legacy.pt", Legacy, "", "", 24, map[string]string{"torch_skipped_keys": "_extra_state"}},
	{"proto4.pt", Zip, "", "", 2, nil},
	{"lightning.ckpt", Zip, "state_dict", "", 10, map[string]string{
		"epoch": "3", "global_step": "120", "pytorch-lightning_version": "1.1.2", "hparams_name": "kwargs",
		"torch_skipped": "callbacks,optimizer_states,lr_schedulers",
	}},
	{"namespace_legacy.ckpt", Legacy, "state_dict", "", 2, map[string]string{"epoch": "7", "global_step": "70"}},
	{"snapshot.pth.tar", Legacy, "state_dict", "module.", 7, map[string]string{
		"epoch": "90", "arch": "densenet", "best_prec1": "95.125", "torch_skipped": "optimizer", "torch_stripped_prefix": "module.",
	}},
}

func readGolden(t *testing.T) *safetensors.File {
	t.Helper()
	g, err := safetensors.ReadFile("testdata/golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestFixturesMatchGolden reads every fixture and compares each tensor
// (name, order, dtype, shape and bytes) with what PyTorch computed for it,
// and the metadata with the values the generator saved.
func TestFixturesMatchGolden(t *testing.T) {
	golden := readGolden(t)
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			path := filepath.Join("testdata", fx.file)
			f, err := ReadFile(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if f.Format != fx.format || f.StateDictKey != fx.sdKey || f.StrippedPrefix != fx.stripped || f.Name != path {
				t.Errorf("format %v, state_dict key %q, stripped %q, name %q", f.Format, f.StateDictKey, f.StrippedPrefix, f.Name)
			}
			var want []string
			for _, g := range golden.Tensors {
				if name, ok := strings.CutPrefix(g.Name, fx.file+"/"); ok {
					want = append(want, name)
				}
			}
			var got []string
			for _, x := range f.Tensors {
				got = append(got, x.Name)
			}
			if !slices.Equal(got, want) || len(got) != fx.tensors {
				t.Fatalf("keys %v\nwant %v (%d)", got, want, fx.tensors)
			}
			for _, x := range f.Tensors {
				g, _ := golden.Get(fx.file + "/" + x.Name)
				if x.DType != g.DType || !slices.Equal(x.Shape, g.Shape) || !bytes.Equal(x.Data, g.Data) {
					t.Errorf("%s: %s %v %x\nwant %s %v %x", x.Name, x.DType, x.Shape, x.Data, g.DType, g.Shape, g.Data)
				}
			}
			if f.Metadata["torch_format"] != fx.format.String() {
				t.Errorf("torch_format %q", f.Metadata["torch_format"])
			}
			for k, v := range fx.wantedMeta {
				if f.Metadata[k] != v {
					t.Errorf("metadata %s = %q, want %q", k, f.Metadata[k], v)
				}
			}
			if _, err := safetensors.NewFile(path, f.Tensors, f.Metadata); err != nil {
				t.Errorf("not a valid safetensors file: %v", err)
			}
		})
	}
}

// TestLightningHyperParameters checks the JSON rendering of an
// AttributeDict and of a Namespace.
func TestLightningHyperParameters(t *testing.T) {
	f, err := ReadFile("testdata/lightning.ckpt", nil)
	if err != nil {
		t.Fatal(err)
	}
	var hp map[string]any
	if err := json.Unmarshal([]byte(f.Metadata["hyper_parameters"]), &hp); err != nil {
		t.Fatalf("hyper_parameters %q: %v", f.Metadata["hyper_parameters"], err)
	}
	want := map[string]any{"enc_type": "mnist-conv", "latent_dim": 4.0, "class_num": 10.0, "lr": 1e-4, "weights": nil, "finetune": false, "gpus": "1", "cov_scaling": 5.0}
	for k, v := range want {
		if hp[k] != v {
			t.Errorf("hyper_parameters[%s] = %#v, want %#v", k, hp[k], v)
		}
	}
	if len(hp) != 29 {
		t.Errorf("%d hyper_parameters, want 29", len(hp))
	}
	// The keys keep their order.
	if !strings.HasPrefix(f.Metadata["hyper_parameters"], `{"input_height":28,"enc_type":"mnist-conv",`) {
		t.Errorf("hyper_parameters out of order: %s", f.Metadata["hyper_parameters"])
	}

	n, err := ReadFile("testdata/namespace_legacy.ckpt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Metadata["hparams"]; got != `{"enc_type":"vgg","latent_dim":128,"class_num":10,"lr":0.1,"tags":["mnist"]}` {
		t.Errorf("hparams %s", got)
	}
}

// TestViewsAndSharing checks what the golden comparison cannot see: that
// a tied weight shares its bytes, and the F64 option.
func TestViewsAndSharing(t *testing.T) {
	for _, name := range []string{"plain_zip.pt", "plain_legacy.pt"} {
		f, err := ReadFile("testdata/"+name, &Options{KeepFloat64: true})
		if err != nil {
			t.Fatal(err)
		}
		get := func(k string) safetensors.Tensor {
			for _, x := range f.Tensors {
				if x.Name == k {
					return x
				}
			}
			t.Fatalf("%s: no %s", name, k)
			return safetensors.Tensor{}
		}
		if a, b := get("0.weight"), get("tied"); &a.Data[0] != &b.Data[0] {
			t.Errorf("%s: the tied weight was copied", name)
		}
		if a, b := get("transposed"), get("window"); &a.Data[0] == &b.Data[0] {
			t.Errorf("%s: different views share bytes", name)
		}
		v, err := get("f64").Float64s()
		if err != nil {
			t.Fatal(err)
		}
		if want := []float64{0.1, 1.0 / 3.0, 1e300, -2.5}; !slices.Equal(v, want) {
			t.Errorf("%s: f64 %v, want %v", name, v, want)
		}
		h, err := get("half").Float32s()
		if err != nil {
			t.Fatal(err)
		}
		if h[2] != 5.960464477539063e-08 || !math.IsInf(float64(h[4]), 1) || !math.IsNaN(float64(h[5])) || !math.Signbit(float64(h[6])) {
			t.Errorf("%s: half %v", name, h)
		}
	}
}

// TestReadHeader checks that the header holds what ReadFile returns,
// without the data.
func TestReadHeader(t *testing.T) {
	for _, fx := range fixtures {
		path := filepath.Join("testdata", fx.file)
		h, err := ReadHeader(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ReadFile(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*h, f.Header) {
			t.Errorf("%s: header\n%+v\nwant\n%+v", fx.file, *h, f.Header)
		}
		if got, err := DetectFile(path); err != nil || got != fx.format {
			t.Errorf("%s: DetectFile %v, %v", fx.file, got, err)
		}
	}
	for _, p := range []string{"testdata/golden.safetensors", "testdata/gen_fixtures.py"} {
		if got, err := DetectFile(p); err != nil || got != Unknown {
			t.Errorf("%s: DetectFile %v, %v", p, got, err)
		}
		if _, err := ReadFile(p, nil); err == nil || !strings.Contains(err.Error(), "not a PyTorch checkpoint") {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestAllowedGlobalsDocumented keeps the package documentation's list in
// step with the table.
func TestAllowedGlobalsDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(strings.ReplaceAll(string(doc), "//", "")), " ")
	for _, g := range []string{"collections.OrderedDict", "_rebuild_tensor_v2", "_rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2",
		"torch.device", "torch.Size", "_codecs.encode", "argparse.Namespace", "AttributeDict", "ModelCheckpoint", "EarlyStopping", "LearningRateMonitor"} {
		if !strings.Contains(text, g) {
			t.Errorf("doc.go does not mention %s", g)
		}
	}
	if n := len(AllowedGlobals()); n != 52 {
		t.Errorf("%d allowed globals; update doc.go and this count together", n)
	}
}
