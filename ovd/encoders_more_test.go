package ovd

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/safetensors"
)

// TestTrainSmallEncoders trains the MNIST MLP (--enc_type mnist, one of
// the encoders the reference's main.py offers) for two epochs, the second
// validated; the test procedure refuses it, since the reference's
// MnistEncoder has no get_layer_output for the feature ensemble.
func TestTrainSmallEncoders(t *testing.T) {
	data := fakeMNIST(t, 200, 60)
	cfg := fakeConfig(t, data, 2)
	cfg.EncType, cfg.EncOutDim = "mnist", backbone.MnistMLPOutDim
	res, err := Train(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Epochs) != 2 || !res.Epochs[1].Validated {
		t.Fatalf("epochs %+v, want 2 with the second validated", res.Epochs)
	}
	cfg.CheckpointPath, cfg.OutputDir = res.LastCheckpoint, t.TempDir()
	if _, err := Test(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "no feature taps") {
		t.Errorf("Test with --enc_type mnist: %v, want an error saying it has no feature taps", err)
	}
}

// fakeCIFAR100 writes a miniature cifar-100-binary.tar.gz of n training
// and n test images, labels i % 100, under a new data folder.
func fakeCIFAR100(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	records := func() []byte {
		var b bytes.Buffer
		for i := range n {
			b.WriteByte(byte(i % 20))
			b.WriteByte(byte(i % 100))
			for k := range 3 * 32 * 32 {
				b.WriteByte(byte(i*7 + k))
			}
		}
		return b.Bytes()
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, name := range []string{"cifar-100-binary/train.bin", "cifar-100-binary/test.bin"} {
		d := records()
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(d)), Typeflag: tar.TypeReg})
		tw.Write(d)
	}
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tb.Bytes())
	zw.Close()
	os.MkdirAll(filepath.Join(dir, "cifar100"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "cifar100", "cifar-100-binary.tar.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTrainAEResNet50 is the reference's CIFAR-100 autoencoder (Bolts' AE
// with enc_type resnet50, models/train_resnet_ae.py): train-ae's default
// encoder for cifar100_known, trained one step and saved; the file loads
// as that autoencoder, and so does the same file without the ae_type
// entry (as the authors' converted checkpoint comes), told by its layers.
func TestTrainAEResNet50(t *testing.T) {
	for ds, want := range map[string]string{"mnist": "mnist-conv", "cifar_known": "resnet18", "cifar100_known": "resnet50"} {
		if got := AEEncTypeFor(ds); got != want {
			t.Errorf("AEEncTypeFor(%s) = %s, want %s", ds, got, want)
		}
	}
	cfg := DefaultAEConfig()
	cfg.KnownDataset, cfg.DataDir, cfg.OutputDir = "cifar100_known", fakeCIFAR100(t, 4), t.TempDir()
	cfg.EncType, cfg.EncOutDim, cfg.InputHeight = AEEncTypeFor(cfg.KnownDataset), backbone.ResNet50OutDim, 32
	cfg.ClassNum, cfg.MaxEpochs, cfg.BatchSize = 2, 1, 2
	res, err := TrainAE(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Losses) != 1 {
		t.Fatalf("losses %v, want one epoch", res.Losses)
	}
	bare := filepath.Join(t.TempDir(), "bare.safetensors")
	rewriteCheckpoint(t, res.Path, bare, func(_ []safetensors.Tensor, meta map[string]string) {
		if meta[aeMetaType] != "resnet50" {
			t.Errorf("train-ae recorded ae_type %q, want resnet50", meta[aeMetaType])
		}
		delete(meta, aeMetaType)
	})
	for _, p := range []string{res.Path, bare} {
		if err := CheckAutoencoder(p); err != nil {
			t.Errorf("CheckAutoencoder(%s): %v", filepath.Base(p), err)
		}
		ae, err := LoadAutoencoder(p)
		if err != nil {
			t.Fatalf("LoadAutoencoder(%s): %v", filepath.Base(p), err)
		}
		if _, ok := ae.(*backbone.ResNet50AE); !ok {
			t.Errorf("LoadAutoencoder(%s) = %T, want the ResNet-50 autoencoder", filepath.Base(p), ae)
		}
	}
}
