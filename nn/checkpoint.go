package nn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/vmdls-go/vmdls/safetensors"
	"github.com/vmdls-go/vmdls/tensor"
	"github.com/vmdls-go/vmdls/torchfile"
)

// Checkpoint files are safetensors files laid out so that PyTorch reads the
// model part as a plain state_dict:
//
//   - the model's state_dict under PyTorch's keys ("features.0.weight",
//     "bn1.running_mean", ...), F32, except "num_batches_tracked" buffers,
//     which are I64 as in PyTorch (held as float32 scalars in Go);
//   - optionally the optimizer's per-parameter state under
//     "optimizer.state.<index>.<name>" (F32; PyTorch's names and parameter
//     numbering: "momentum_buffer", "step", "exp_avg", "exp_avg_sq",
//     "max_exp_avg_sq"), with its type and param_groups (hyperparameters and
//     parameter indices) as JSON in metadata "optimizer";
//   - optionally the StepLR state as JSON in metadata "scheduler";
//   - any extra tensors the trainer keeps (class statistics, ...) under
//     "extra.<name>", in any supported dtype (F32, F64, I64);
//   - the caller's metadata (epoch, hyperparameters, ...) as strings.
//
// Keys beginning with "optimizer." or "extra." are therefore never model
// keys; a model must not have a top-level child called "optimizer" or
// "extra".
const (
	// OptimizerStatePrefix starts the keys of optimizer state tensors.
	OptimizerStatePrefix = "optimizer.state."
	// ExtraPrefix starts the keys of extra trainer tensors.
	ExtraPrefix = "extra."
	// MetaOptimizer is the metadata key of the optimizer's type and groups.
	MetaOptimizer = "optimizer"
	// MetaScheduler is the metadata key of the learning-rate schedule.
	MetaScheduler = "scheduler"
)

// isTrainingKey reports whether a file key holds training state rather than
// a model tensor.
func isTrainingKey(k string) bool {
	return strings.HasPrefix(k, "optimizer.") || strings.HasPrefix(k, ExtraPrefix)
}

// modelDType is the dtype a state_dict key is stored as: PyTorch's int64
// for BatchNorm's batch counter, float32 for everything else.
func modelDType(key string) safetensors.DType {
	if key == "num_batches_tracked" || strings.HasSuffix(key, ".num_batches_tracked") {
		return safetensors.I64
	}
	return safetensors.F32
}

// SaveOptions says what a checkpoint holds beside the model.
type SaveOptions struct {
	// Optimizer, when not nil, has its state saved.
	Optimizer Optimizer
	// Scheduler, when not nil, has its state saved.
	Scheduler *StepLR
	// Extra tensors are saved under "extra.<Name>".
	Extra []safetensors.Tensor
	// Metadata is saved as is; the keys "optimizer" and "scheduler" are
	// reserved.
	Metadata map[string]string
}

// SaveCheckpoint writes m's state_dict and what o asks for (o may be nil)
// to path, atomically: a crash leaves the old file or the new one.
func SaveCheckpoint(path string, m Module, o *SaveOptions) error {
	if o == nil {
		o = &SaveOptions{}
	}
	for _, e := range StateDict(m) {
		if isTrainingKey(e.Name) {
			return fmt.Errorf("nn.SaveCheckpoint: model key %q clashes with the reserved optimizer./extra. prefixes", e.Name)
		}
	}
	ts, err := StateTensors(m, "")
	if err != nil {
		return fmt.Errorf("nn.SaveCheckpoint: %w", err)
	}
	meta := map[string]string{}
	for k, v := range o.Metadata {
		if k == MetaOptimizer || k == MetaScheduler {
			return fmt.Errorf("nn.SaveCheckpoint: metadata key %q is reserved", k)
		}
		meta[k] = v
	}
	if o.Optimizer != nil {
		st := o.Optimizer.StateDict()
		b, err := json.Marshal(struct {
			Type        string          `json:"type"`
			ParamGroups json.RawMessage `json:"param_groups"`
		}{st.Type, st.ParamGroups})
		if err != nil {
			return fmt.Errorf("nn.SaveCheckpoint: %v", err)
		}
		meta[MetaOptimizer] = string(b)
		for _, e := range st.State {
			ts = append(ts, safetensors.FromFloat32(OptimizerStatePrefix+e.Name, e.Value.Shape(), hostValues(e.Value)))
		}
	}
	if o.Scheduler != nil {
		b, err := o.Scheduler.MarshalState()
		if err != nil {
			return fmt.Errorf("nn.SaveCheckpoint: %v", err)
		}
		meta[MetaScheduler] = string(b)
	}
	for _, e := range o.Extra {
		e.Name = ExtraPrefix + e.Name
		ts = append(ts, e)
	}
	if err := safetensors.WriteFile(path, ts, meta); err != nil {
		return fmt.Errorf("nn.SaveCheckpoint: %w", err)
	}
	return nil
}

// StateTensors returns m's state_dict as safetensors tensors in the
// checkpoint's dtypes (F32, I64 for BatchNorm's num_batches_tracked), each
// name prefixed with prefix. SaveCheckpoint writes these; a file that holds
// several modules side by side (ovd's detector file) prefixes each one's
// keys so that they cannot collide.
func StateTensors(m Module, prefix string) ([]safetensors.Tensor, error) {
	var ts []safetensors.Tensor
	for _, e := range StateDict(m) {
		v := hostValues(e.Value)
		if modelDType(e.Name) == safetensors.I64 {
			iv := make([]int64, len(v))
			for i, x := range v {
				if x != float32(math.Trunc(float64(x))) {
					return nil, fmt.Errorf("%s = %v is not an integer", e.Name, x)
				}
				iv[i] = int64(x)
			}
			ts = append(ts, safetensors.FromInt64(prefix+e.Name, e.Value.Shape(), iv))
			continue
		}
		ts = append(ts, safetensors.FromFloat32(prefix+e.Name, e.Value.Shape(), v))
	}
	return ts, nil
}

// hostValues returns t's values on the host (the storage itself on the CPU).
func hostValues(t *tensor.Tensor) []float32 {
	if t.Device() != tensor.CPU {
		t = t.To(tensor.CPU)
	}
	return t.Data()
}

// Checkpoint is a checkpoint file read into memory.
type Checkpoint struct {
	// Path is where it was read from.
	Path string
	// Metadata is the caller's metadata (the reserved keys removed).
	Metadata map[string]string
	// File is the underlying safetensors file.
	File *safetensors.File
}

// ReadCheckpoint reads and validates the checkpoint (or any safetensors
// file, such as one the PyTorch converter wrote) at path, with
// safetensors.ReadFile: a path that is not a regular file (a FIFO, a
// device, a directory) is refused without being opened, the header is
// validated before any tensor data is read, and a file with bytes beyond
// its last tensor is refused. To inspect a checkpoint's keys, shapes and
// metadata without reading its tensors, use safetensors.ReadHeader.
//
// A file that is not safetensors but a PyTorch checkpoint (torch.save's
// zip or legacy format: a state_dict, a Lightning .ckpt, a .pth.tar
// snapshot) is read with torchfile.ReadFile, as the format is told by
// content, not by name: its state_dict becomes the model tensors (F32,
// I64 for integers, a DataParallel "module." prefix stripped) and its other
// entries the metadata (epoch, hyper_parameters as JSON, ...). Such a
// Checkpoint holds no optimizer or scheduler state.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	f, err := safetensors.ReadFile(path)
	if errors.Is(err, safetensors.ErrFormat) {
		if format, derr := torchfile.DetectFile(path); derr == nil && format != torchfile.Unknown {
			f, err = readTorchCheckpoint(path)
		}
	}
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Path: path, File: f, Metadata: map[string]string{}}
	for k, v := range f.Metadata {
		if k != MetaOptimizer && k != MetaScheduler {
			c.Metadata[k] = v
		}
	}
	return c, nil
}

// readTorchCheckpoint reads a PyTorch checkpoint as the safetensors file
// it would convert to.
func readTorchCheckpoint(path string) (*safetensors.File, error) {
	tf, err := torchfile.ReadFile(path, nil)
	if err != nil {
		return nil, err
	}
	// A top-level "optimizer" or "scheduler" entry is another trainer's
	// state in another layout; torchfile leaves both out as training
	// state, so they cannot pass for ours.
	return safetensors.NewFile(path, tf.Tensors, tf.Metadata)
}

// LoadCheckpoint reads the checkpoint at path and loads its model state
// into m (see Checkpoint.LoadModel); the returned Checkpoint gives access
// to the optimizer state, the schedule, extras and metadata.
func LoadCheckpoint(path string, m Module, strict bool) (*Checkpoint, *LoadReport, error) {
	c, err := ReadCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := c.LoadModel(m, strict)
	if err != nil {
		return nil, r, err
	}
	return c, r, nil
}

// KeyMismatch is a key present in both the file and the model whose tensor
// cannot be loaded: a different shape or dtype, or a value a float32
// cannot hold.
type KeyMismatch struct {
	Key                 string
	WantShape, GotShape []int
	WantDType, GotDType safetensors.DType
	// Reason is set when shapes and dtypes agree but a value does not fit.
	Reason string
}

func (m KeyMismatch) String() string {
	switch {
	case m.Reason != "":
		return fmt.Sprintf("%s: %s", m.Key, m.Reason)
	case !slices.Equal(m.WantShape, m.GotShape):
		return fmt.Sprintf("%s: the model expects shape %v, the file has %v", m.Key, m.WantShape, m.GotShape)
	default:
		return fmt.Sprintf("%s: the model expects dtype %s, the file has %s", m.Key, m.WantDType, m.GotDType)
	}
}

// LoadReport says how a file's keys matched a model's state_dict.
type LoadReport struct {
	// Loaded lists the keys whose values were copied into the model.
	Loaded []string
	// Missing lists model keys the file lacks, in state_dict order.
	Missing []string
	// Unexpected lists file keys the model lacks (training state excluded),
	// in file order.
	Unexpected []string
	// Mismatched lists keys present in both that cannot be loaded.
	Mismatched []KeyMismatch
}

// OK reports whether every key matched.
func (r *LoadReport) OK() bool {
	return len(r.Missing) == 0 && len(r.Unexpected) == 0 && len(r.Mismatched) == 0
}

// StateDictError is the error of a strict load whose keys do not all match.
type StateDictError struct {
	File   string
	Report *LoadReport
}

func (e *StateDictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nn: %s does not match the model's state_dict:", e.File)
	for _, k := range e.Report.Missing {
		fmt.Fprintf(&b, "\n  missing key %s", k)
	}
	for _, k := range e.Report.Unexpected {
		fmt.Fprintf(&b, "\n  unexpected key %s", k)
	}
	for _, m := range e.Report.Mismatched {
		fmt.Fprintf(&b, "\n  %s", m)
	}
	return b.String()
}

// LoadModel copies the file's model tensors into m's parameters and
// buffers. Strict: every key of m's state_dict must be in the file with the
// same shape and dtype, and the file must have no other model keys;
// otherwise the error (a *StateDictError) names every missing, unexpected
// and mismatched key, and m is left unchanged. Not strict: the keys that
// match are loaded and the others reported, with a nil error (what
// fine-tuning from a classifier's checkpoint needs).
func (c *Checkpoint) LoadModel(m Module, strict bool) (*LoadReport, error) {
	r := &LoadReport{}
	sd := StateDict(m)
	inModel := map[string]bool{}
	type job struct {
		dst *tensor.Tensor
		src safetensors.Tensor
	}
	var jobs []job
	for _, e := range sd {
		inModel[e.Name] = true
		x, ok := c.File.Get(e.Name)
		if !ok {
			r.Missing = append(r.Missing, e.Name)
			continue
		}
		want := modelDType(e.Name)
		if x.DType != want || !slices.Equal(x.Shape, e.Value.Shape()) {
			r.Mismatched = append(r.Mismatched, KeyMismatch{Key: e.Name, WantShape: e.Value.Shape(), GotShape: x.Shape, WantDType: want, GotDType: x.DType})
			continue
		}
		if x.DType == safetensors.I64 {
			iv, _ := x.Int64s()
			for _, v := range iv {
				if v < -(1<<24) || v > 1<<24 {
					r.Mismatched = append(r.Mismatched, KeyMismatch{Key: e.Name, WantShape: e.Value.Shape(), GotShape: x.Shape, WantDType: want, GotDType: x.DType,
						Reason: fmt.Sprintf("value %d is beyond what a float32 buffer holds exactly (2^24)", v)})
					break
				}
			}
			if n := len(r.Mismatched); n > 0 && r.Mismatched[n-1].Key == e.Name {
				continue
			}
		}
		jobs = append(jobs, job{e.Value, x})
	}
	for _, x := range c.File.Tensors {
		if !inModel[x.Name] && !isTrainingKey(x.Name) {
			r.Unexpected = append(r.Unexpected, x.Name)
		}
	}
	if strict && !r.OK() {
		return r, &StateDictError{File: c.Path, Report: r}
	}
	for _, j := range jobs {
		var v []float32
		switch j.src.DType {
		case safetensors.I64:
			iv, _ := j.src.Int64s()
			v = make([]float32, len(iv))
			for i, x := range iv {
				v[i] = float32(x)
			}
		default:
			v, _ = j.src.Float32s()
		}
		if j.dst.Device() == tensor.CPU {
			copy(j.dst.Data(), v)
		} else {
			j.dst.CopyFrom(tensor.FromSlice(v, j.dst.Shape()...).To(j.dst.Device()))
		}
		r.Loaded = append(r.Loaded, j.src.Name)
	}
	return r, nil
}

// HasOptimizer reports whether the checkpoint holds optimizer state.
func (c *Checkpoint) HasOptimizer() bool {
	_, ok := c.File.Metadata[MetaOptimizer]
	return ok
}

// LoadOptimizer restores o's hyperparameters and per-parameter state. o
// must be the same kind of optimizer over parameters of the same shapes in
// the same groups as the one saved (build it over the loaded model's
// parameters as before, then call this).
func (c *Checkpoint) LoadOptimizer(o Optimizer) error {
	raw, ok := c.File.Metadata[MetaOptimizer]
	if !ok {
		return fmt.Errorf("nn: %s holds no optimizer state", c.Path)
	}
	var head struct {
		Type        string          `json:"type"`
		ParamGroups json.RawMessage `json:"param_groups"`
	}
	if err := json.Unmarshal([]byte(raw), &head); err != nil {
		return fmt.Errorf("nn: %s: bad optimizer metadata: %v", c.Path, err)
	}
	st := &OptimizerState{Type: head.Type, ParamGroups: head.ParamGroups}
	for _, x := range c.File.Tensors {
		if !strings.HasPrefix(x.Name, OptimizerStatePrefix) {
			continue
		}
		v, err := x.Float32s()
		if err != nil {
			return fmt.Errorf("nn: %s: %w", c.Path, err)
		}
		st.State = append(st.State, Named[*tensor.Tensor]{strings.TrimPrefix(x.Name, OptimizerStatePrefix), tensor.FromSlice(v, x.Shape...)})
	}
	if err := o.LoadStateDict(st); err != nil {
		return fmt.Errorf("%w (loading %s)", err, c.Path)
	}
	return nil
}

// LoadScheduler restores s's state (epoch count, base learning rates).
func (c *Checkpoint) LoadScheduler(s *StepLR) error {
	raw, ok := c.File.Metadata[MetaScheduler]
	if !ok {
		return fmt.Errorf("nn: %s holds no scheduler state", c.Path)
	}
	if err := s.UnmarshalState([]byte(raw)); err != nil {
		return fmt.Errorf("%w (loading %s)", err, c.Path)
	}
	return nil
}

// Extra returns the extra tensor saved under name (without the "extra."
// prefix).
func (c *Checkpoint) Extra(name string) (safetensors.Tensor, bool) {
	t, ok := c.File.Get(ExtraPrefix + name)
	if ok {
		t.Name = name
	}
	return t, ok
}
