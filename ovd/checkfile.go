package ovd

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/safetensors"
	"github.com/vmdls-go/vmdls/torchfile"
)

// Checks of the files a run is given, from their headers alone: a
// checkpoint or autoencoder made for another network fails before any
// data is read or any network is built, naming the flag to change.

// TrainedSettings are the settings a checkpoint records that a run must
// match; nil fields were not recorded.
type TrainedSettings struct {
	EncType   string `json:"enc_type,omitempty"`
	LatentDim *int   `json:"latent_dim,omitempty"`
	ClassNum  *int   `json:"class_num,omitempty"`
	// From is the metadata key they were found under.
	From string `json:"-"`
}

// Known reports whether any setting was recorded.
func (s TrainedSettings) Known() bool {
	return s.EncType != "" || s.LatentDim != nil || s.ClassNum != nil
}

// TrainedWith finds enc_type, latent_dim and class_num in a checkpoint's
// metadata: Train's state (the "vmdls_state" key), or the hyper_parameters
// (hparams before Lightning 0.9) of a Lightning checkpoint of the
// reference.
func TrainedWith(md map[string]string) TrainedSettings {
	for _, key := range []string{metaState, "hyper_parameters", "hparams"} {
		js, ok := md[key]
		if !ok {
			continue
		}
		var s TrainedSettings
		if json.Unmarshal([]byte(js), &s) == nil && s.Known() {
			s.From = key
			return s
		}
	}
	return TrainedSettings{}
}

// readFileHeader reads the safetensors header of path without its tensor
// data, or a PyTorch checkpoint's (readTorchHeader).
func readFileHeader(path string) (*safetensors.Header, error) {
	h, err := safetensors.ReadHeader(path)
	if errors.Is(err, safetensors.ErrFormat) {
		if th, ok, terr := readTorchHeader(path); ok {
			return th, terr
		}
		return nil, fmt.Errorf("not a safetensors checkpoint nor a PyTorch one (%v)", err)
	}
	return h, err
}

// readTorchHeader reads a PyTorch checkpoint's header for the checks of
// readFileHeader; ok is false when path is not a PyTorch file (its error is
// then the caller's to give). The returned Header is only for those
// checks: it has no data offsets and its Get finds nothing. Its metadata
// gains a "vmdls_state" made of the enc_type, latent_dim and class_num of a
// Lightning checkpoint's hyper_parameters (the reference's names), so that
// a reference checkpoint of another network or class count is refused as
// early as one of Train.
func readTorchHeader(path string) (h *safetensors.Header, ok bool, err error) {
	format, err := torchfile.DetectFile(path)
	if err != nil || format == torchfile.Unknown {
		return nil, false, err
	}
	th, err := torchfile.ReadHeader(path)
	if err != nil {
		return nil, true, err
	}
	h = &safetensors.Header{Name: path, Metadata: maps.Clone(th.Metadata)}
	for _, t := range th.Tensors {
		h.Tensors = append(h.Tensors, safetensors.TensorInfo{Name: t.Name, DType: t.DType, Shape: t.Shape})
	}
	if _, has := h.Metadata[metaState]; !has {
		if rec := TrainedWith(th.Metadata); rec.Known() {
			js, _ := json.Marshal(rec)
			h.Metadata[metaState] = string(js)
		}
	}
	return h, true, nil
}

// CheckCheckpoint reads only the header of the checkpoint at path (a
// safetensors file or a PyTorch one) and compares the latent heads' shape,
// and the enc_type, latent_dim and class_num the file records where it
// records them, with cfg, so that a checkpoint of another backbone fails
// before any work. Its errors name --checkpoint_path and the flag that
// differs; Train's warm start runs the same check.
func CheckCheckpoint(cfg *Config, path string) error {
	return checkModelFile(cfg, "--checkpoint_path", path)
}

// CheckResume is CheckCheckpoint for --resume: the same checks, naming
// --resume, and the file must hold the training state that only Train
// writes (a reference checkpoint has the weights alone, which
// --checkpoint_path takes).
func CheckResume(cfg *Config, path string) error {
	if err := checkModelFile(cfg, "--resume", path); err != nil {
		return err
	}
	if a, err := readCheckpointArch("--resume", path); err != nil {
		return err
	} else if !a.Resumable {
		return fmt.Errorf("--resume %s is not a training checkpoint of vmdls train (no training state in it); to start from its weights use --checkpoint_path", path)
	}
	return nil
}

// checkModelFile is CheckCheckpoint with its errors naming flag.
func checkModelFile(cfg *Config, flag, path string) error {
	hdr, err := readFileHeader(path)
	if err != nil {
		return fmt.Errorf("%s %s: %v", flag, path, err)
	}
	// Train records its settings as JSON under metaState; other writers
	// may put enc_type at the top level.
	var rec struct {
		EncType   string `json:"enc_type"`
		LatentDim *int   `json:"latent_dim"`
		ClassNum  *int   `json:"class_num"`
	}
	if js, ok := hdr.Metadata[metaState]; ok {
		json.Unmarshal([]byte(js), &rec)
	}
	if et, ok := hdr.Metadata["enc_type"]; ok {
		rec.EncType = et
	}
	if rec.EncType != "" && rec.EncType != cfg.EncType {
		return fmt.Errorf("%s %s holds a %s model but --enc_type is %s; want --enc_type %s or a %s checkpoint", flag, path, rec.EncType, cfg.EncType, rec.EncType, cfg.EncType)
	}
	if rec.LatentDim != nil && *rec.LatentDim != cfg.LatentDim {
		return fmt.Errorf("%s %s has --latent_dim %d, not %d", flag, path, *rec.LatentDim, cfg.LatentDim)
	}
	if rec.ClassNum != nil && *rec.ClassNum != cfg.ClassNum {
		return fmt.Errorf("%s %s was trained with --class_num %d, not %d", flag, path, *rec.ClassNum, cfg.ClassNum)
	}
	lat, in, ok := meanHead(hdr)
	if !ok {
		return wrongKind(hdr, flag, path)
	}
	if in != cfg.EncOutDim {
		return fmt.Errorf("%s %s was made for an encoder of width %d, not --enc_type %s (--enc_out_dim %d)", flag, path, in, cfg.EncType, cfg.EncOutDim)
	}
	if lat != cfg.LatentDim {
		return fmt.Errorf("%s %s has --latent_dim %d, not %d", flag, path, lat, cfg.LatentDim)
	}
	return nil
}

// meanHead finds the latent mean head's weight, [latent_dim, enc_out_dim]:
// "fc_mu" in backbone.Model (the reference's name), "mu" in older files of
// this engine, under a prefix in a Lightning checkpoint.
func meanHead(hdr *safetensors.Header) (lat, in int, ok bool) {
	for _, ti := range hdr.Tensors {
		name := ti.Name
		if name != "mu.weight" && name != "fc_mu.weight" && !strings.HasSuffix(name, ".mu.weight") && !strings.HasSuffix(name, ".fc_mu.weight") {
			continue
		}
		if len(ti.Shape) == 2 {
			return ti.Shape[0], ti.Shape[1], true
		}
	}
	return 0, 0, false
}

// wrongKind is the error for a file without a mean head given as the
// model: an autoencoder, an encoder's weights or something else, said
// before a run creates its output folder rather than when loading fails.
func wrongKind(hdr *safetensors.Header, flag, path string) error {
	shapes := make(map[string][]int, len(hdr.Tensors))
	for _, t := range hdr.Tensors {
		shapes[t.Name] = t.Shape
	}
	if _, ok := hdr.Metadata[aeMetaType]; ok || AutoencoderKind(shapes) != "" {
		return fmt.Errorf("%s %s is an autoencoder, not a model: give it as --ae_path (with --ae_features) and the model vmdls train writes as %s", flag, path, flag)
	}
	return fmt.Errorf("%s %s holds no model: none of its %d tensors is the latent mean head (fc_mu.weight); encoder weights go to --weights", flag, path, len(hdr.Tensors))
}

// CheckpointArch is the network a checkpoint holds, as far as its header
// says: the settings it records and the shape of its latent mean head. The
// command line fills in from it the architecture flags a user left out.
type CheckpointArch struct {
	TrainedSettings
	// EncOutDim and HeadLatentDim are the mean head's input and output
	// widths; 0 when the file has none.
	EncOutDim, HeadLatentDim int
	// Resumable reports whether the file holds the training state that
	// vmdls train --resume continues from (a checkpoint that Train wrote);
	// Epochs is then the number of epochs it completed.
	Resumable bool
	Epochs    int
}

// ReadCheckpointArch reads only the header of the checkpoint at path (a
// safetensors file or a PyTorch one). Its errors name --checkpoint_path,
// as CheckCheckpoint's do.
func ReadCheckpointArch(path string) (CheckpointArch, error) {
	return readCheckpointArch("--checkpoint_path", path)
}

// ReadResumeArch is ReadCheckpointArch for the file of --resume, naming it.
func ReadResumeArch(path string) (CheckpointArch, error) {
	return readCheckpointArch("--resume", path)
}

func readCheckpointArch(flag, path string) (CheckpointArch, error) {
	hdr, err := readFileHeader(path)
	if err != nil {
		return CheckpointArch{}, fmt.Errorf("%s %s: %v", flag, path, err)
	}
	a := CheckpointArch{TrainedSettings: TrainedWith(hdr.Metadata)}
	if et, ok := hdr.Metadata["enc_type"]; ok {
		a.EncType = et // as CheckCheckpoint reads it
	}
	a.HeadLatentDim, a.EncOutDim, _ = meanHead(hdr)
	// readTorchHeader makes up the state of a PyTorch file from its
	// hyper_parameters; only a safetensors file has Train's own.
	if st, err := safetensors.ReadHeader(path); err == nil {
		var js string
		if js, a.Resumable = st.Metadata[metaState]; a.Resumable {
			var rec struct {
				Epoch int `json:"epoch"`
			}
			json.Unmarshal([]byte(js), &rec)
			a.Epochs = rec.Epoch
		}
	}
	return a, nil
}

// ErrAutoencoderInside is CheckAutoencoder's error for a model checkpoint
// of the reference given as the autoencoder: the autoencoder is in it,
// under "ae.", and has to be taken out (vmdls convert --prefix ae.).
var ErrAutoencoderInside = errors.New("a model checkpoint with an autoencoder inside (under ae.)")

// CheckAutoencoder reads only the header of the autoencoder at path (a
// safetensors file or a PyTorch one) and checks that LoadAutoencoder can
// tell which autoencoder it is: by the ae_type TrainAE records, or by its
// layers' shapes (AutoencoderKind). A model checkpoint of the reference,
// which keeps its frozen autoencoder under "ae.", is told so. Its errors
// name --ae_path.
func CheckAutoencoder(path string) error {
	hdr, err := readFileHeader(path)
	if err != nil {
		return fmt.Errorf("--ae_path %s: %v", path, err)
	}
	if _, ok := hdr.Metadata[aeMetaType]; ok {
		return nil
	}
	shapes := make(map[string][]int, len(hdr.Tensors))
	for _, t := range hdr.Tensors {
		shapes[t.Name] = t.Shape
	}
	if AutoencoderKind(shapes) != "" {
		return nil
	}
	inner := map[string][]int{}
	for name, shape := range shapes {
		if rest, ok := strings.CutPrefix(name, "ae."); ok {
			inner[rest] = shape
		}
	}
	if AutoencoderKind(inner) != "" {
		return fmt.Errorf("--ae_path %s is %w", path, ErrAutoencoderInside)
	}
	return fmt.Errorf("--ae_path %s is not an autoencoder: no %s in its metadata (vmdls train-ae writes one), and its layers are not the MNIST, ResNet-18 or ResNet-50 autoencoder's", path, aeMetaType)
}

// CheckWeights reads only the header of the encoder weights at path (a
// safetensors file or a PyTorch one), so that an unreadable file or an
// autoencoder given as --weights fails before a run creates anything.
// Whether its keys fit the encoder is known only once the encoder is
// built, when Train loads them.
func CheckWeights(path string) error {
	hdr, err := readFileHeader(path)
	if err != nil {
		return fmt.Errorf("--weights %s: %v", path, err)
	}
	if _, ok := hdr.Metadata[aeMetaType]; ok {
		return fmt.Errorf("--weights %s is an autoencoder; it goes to --ae_path (with --ae_features)", path)
	}
	if len(hdr.Tensors) == 0 {
		return fmt.Errorf("--weights %s holds no tensors", path)
	}
	return nil
}

// CheckAutoencoderImages reads only the header of the autoencoder at path
// and fails, naming both, when it does not take the images of the known
// dataset (the MNIST autoencoder for a CIFAR run, say), so that the mistake
// is found before a run creates its output folder. Datasets it does not
// know, and files whose kind the header does not tell, are left to the
// run itself.
func CheckAutoencoderImages(path, knownDataset string) error {
	set, ok := data.LookupKnown(knownDataset)
	if !ok {
		return nil
	}
	hdr, err := readFileHeader(path)
	if err != nil {
		return fmt.Errorf("--ae_path %s: %v", path, err)
	}
	kind := hdr.Metadata[aeMetaType]
	if kind == "" {
		shapes := make(map[string][]int, len(hdr.Tensors))
		for _, t := range hdr.Tensors {
			shapes[t.Name] = t.Shape
		}
		kind = AutoencoderKind(shapes)
	}
	if kind == "" || aeTakes(kind, set.Channels, set.Height, set.Width) {
		return nil
	}
	return fmt.Errorf("--ae_path %s holds the %s autoencoder, which does not take --known_dataset %s's %dx%dx%d images (vmdls train-ae --known_dataset %s makes one that does)",
		path, kind, knownDataset, set.Channels, set.Height, set.Width, knownDataset)
}
