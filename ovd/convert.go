package ovd

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/vmdls-go/vmdls/safetensors"
	"github.com/vmdls-go/vmdls/torchfile"
)

// Reading and converting the reference's PyTorch checkpoints, and what a
// checkpoint of either kind holds: the library side of vmdls convert and
// vmdls info --checkpoint, so that neither the command line nor a library
// caller parses file formats or metadata keys itself.

// ConvertOptions are the choices of ConvertPyTorch.
type ConvertOptions struct {
	// KeepFloat64 keeps float64 tensors as F64; by default they are
	// rounded to F32, what the models hold.
	KeepFloat64 bool
	// Prefix, when set, keeps only the keys that start with it, without it
	// (the reference keeps its autoencoder under "ae." inside its model).
	Prefix string
	// AEType marks the output as an autoencoder for --ae_path: "mnist",
	// "resnet18" or "resnet50", "auto" (read from the layers' shapes,
	// AutoencoderKind) or "none". Empty means "auto".
	AEType string
	// Metadata entries are added to the output's, replacing any of the
	// same key.
	Metadata map[string]string
}

// ConvertResult says what ConvertPyTorch read and wrote.
type ConvertResult struct {
	// Format names the PyTorch container (torch.save's zip or legacy).
	Format string
	// StateDictKey is the key the state_dict was found under ("" for a
	// bare state_dict).
	StateDictKey string
	// Tensors and Bytes count what was written.
	Tensors, Bytes int
	// Notes are the reader's remarks (rounded dtypes, kept keys, ...).
	Notes []string
	// AEType is the autoencoder kind recorded, "" for none.
	AEType string
}

// ConvertPyTorch converts the PyTorch checkpoint in (a state_dict, a
// Lightning .ckpt, a .pth.tar snapshot; read by torchfile's restricted
// unpickler, no Python) into the safetensors file out, which Train, Test
// and LoadAutoencoder then take. Problems with in or the options are
// InputErrors; a failure to write out is not.
func ConvertPyTorch(in, out string, opts ConvertOptions) (*ConvertResult, error) {
	switch opts.AEType {
	case "", "auto", "none", "mnist", "resnet18", "resnet50":
	default:
		return nil, inputErrorf("ae_type %q: want mnist, resnet18, resnet50, auto or none", opts.AEType)
	}
	format, err := torchfile.DetectFile(in)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	if format == torchfile.Unknown {
		if _, herr := safetensors.ReadHeader(in); herr == nil {
			return nil, inputErrorf("%s is already a safetensors file; use it as it is", in)
		}
		return nil, inputErrorf("%s is not a PyTorch checkpoint (neither torch.save's zip nor its legacy format)", in)
	}
	f, err := torchfile.ReadFile(in, &torchfile.Options{KeepFloat64: opts.KeepFloat64})
	if err != nil {
		return nil, &InputError{Err: err}
	}
	if opts.Prefix != "" {
		var kept []safetensors.Tensor
		var infos []torchfile.TensorInfo
		for i, t := range f.Tensors {
			if name, ok := strings.CutPrefix(t.Name, opts.Prefix); ok && name != "" {
				t.Name = name
				kept = append(kept, t)
				info := f.Header.Tensors[i]
				info.Name = name
				infos = append(infos, info)
			}
		}
		if len(kept) == 0 {
			return nil, inputErrorf("no key of %s starts with the prefix %q", in, opts.Prefix)
		}
		f.Notes = append(f.Notes, fmt.Sprintf("kept the %d of %d keys under %q, without it", len(kept), len(f.Tensors), opts.Prefix))
		f.Tensors, f.Header.Tensors = kept, infos
	}
	md := maps.Clone(f.Metadata)
	if md == nil {
		md = map[string]string{}
	}
	if kind := aeKindToRecord(opts.AEType, f.Header.Tensors); kind != "" {
		md[aeMetaType] = kind
	}
	maps.Copy(md, opts.Metadata)
	if err := safetensors.WriteFile(out, f.Tensors, md); err != nil {
		return nil, err
	}
	res := &ConvertResult{Format: f.Format.String(), StateDictKey: f.StateDictKey, Tensors: len(f.Tensors),
		Notes: f.Notes, AEType: md[aeMetaType]}
	for _, t := range f.Tensors {
		res.Bytes += len(t.Data)
	}
	return res, nil
}

// aeKindToRecord is the ae_type to record: the one asked for, or with
// "auto" (or nothing) the kind AutoencoderKind reads from the layers'
// shapes; "" for none.
func aeKindToRecord(want string, ts []torchfile.TensorInfo) string {
	switch want {
	case "none":
		return ""
	case "mnist", "resnet18", "resnet50":
		return want
	}
	shapes := make(map[string][]int, len(ts))
	for _, t := range ts {
		shapes[t.Name] = t.Shape
	}
	return AutoencoderKind(shapes)
}

// TensorInfo is one tensor's name, dtype and shape, as a header lists it.
type TensorInfo struct {
	Name  string
	DType string
	Shape []int
}

// CheckpointInfo is what a checkpoint holds, read from its header alone.
type CheckpointInfo struct {
	// Format is "safetensors" or "PyTorch zip" / "PyTorch legacy".
	Format string
	// StateDictKey is where a PyTorch file keeps its state_dict.
	StateDictKey string
	Tensors      []TensorInfo
	// Metadata is the file's string metadata (a PyTorch file's scalars
	// and hyper_parameters, as JSON where they are structured).
	Metadata map[string]string
	// Notes are the PyTorch reader's remarks.
	Notes []string
	// TrainedWith are the architecture settings recorded in Metadata.
	TrainedWith TrainedSettings
}

// HyperParameters returns a Lightning checkpoint's hyper_parameters (hparams
// before Lightning 0.9), "" when there are none.
func (c *CheckpointInfo) HyperParameters() string {
	if hp := c.Metadata["hyper_parameters"]; hp != "" {
		return hp
	}
	return c.Metadata["hparams"]
}

// ReadCheckpointInfo reads the header of a safetensors or PyTorch
// checkpoint; it reads no tensor data. Files that are neither, or that
// cannot be read, give InputErrors naming the file.
func ReadCheckpointInfo(path string) (*CheckpointInfo, error) {
	if err := checkRegularFile(path); err != nil {
		return nil, &InputError{Err: err}
	}
	info := &CheckpointInfo{}
	h, err := safetensors.ReadHeader(path)
	switch {
	case err == nil:
		info.Format, info.Metadata = "safetensors", h.Metadata
		for _, t := range h.Tensors {
			info.Tensors = append(info.Tensors, TensorInfo{t.Name, string(t.DType), t.Shape})
		}
	case !errors.Is(err, safetensors.ErrFormat):
		return nil, &InputError{Err: err}
	default:
		format, derr := torchfile.DetectFile(path)
		if derr != nil || format == torchfile.Unknown {
			return nil, inputErrorf("%s is neither a safetensors file nor a PyTorch checkpoint (%v)", path, err)
		}
		th, terr := torchfile.ReadHeader(path)
		if terr != nil {
			return nil, &InputError{Err: terr}
		}
		info.Format = "PyTorch " + th.Format.String()
		info.StateDictKey, info.Metadata, info.Notes = th.StateDictKey, th.Metadata, th.Notes
		for _, t := range th.Tensors {
			info.Tensors = append(info.Tensors, TensorInfo{t.Name, string(t.DType), t.Shape})
		}
	}
	info.TrainedWith = TrainedWith(info.Metadata)
	return info, nil
}

// trainConfig returns the training settings a checkpoint recorded, for
// results.json's train_config: a vmdls checkpoint's config (Config's JSON,
// flag names as keys) or a Lightning checkpoint's hyper_parameters (the
// reference's argparse names); nil when it recorded none.
func trainConfig(path string) json.RawMessage {
	info, err := ReadCheckpointInfo(path)
	if err != nil {
		return nil
	}
	for _, js := range []string{info.Metadata["config"], info.HyperParameters()} {
		if js != "" && json.Valid([]byte(js)) {
			return json.RawMessage(js)
		}
	}
	return nil
}

// buildInfo says which vmdls made a file: the module version (a release
// tag, a pseudo-version or "(devel)"), the VCS revision when the build
// recorded one, and the Go version.
func buildInfo() map[string]string {
	out := map[string]string{"go": runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	out["version"] = bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out["revision"] = s.Value
		case "vcs.modified":
			out["modified"] = s.Value
		}
	}
	return out
}
