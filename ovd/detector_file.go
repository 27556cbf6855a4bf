package ovd

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/safetensors"
)

// The detector file is one safetensors file:
//
//	model.<key>       the model's state_dict (encoder and heads), F32 / I64
//	ae.<key>          the autoencoder's, when scores are weighted
//	gauss.mean        F64 [C, D]     the class means on the feature set
//	gauss.chol        F64 [C, D, D]  their upper Cholesky factors U (S = UᵀU), zeros below
//	input.mean        F32 [channels] the test-time normalization
//	input.std         F32 [channels]
//	score.offset      F64 [1]        M, frozen on the calibration set
//	score.recon_max   F64 [1]        max r on the calibration set (weighted only)
//	threshold         F64 [1]        the decision threshold
//
// and string metadata: format and format_version (DetectorFormatVersion),
// vmdls_version, command, config (the fit's Config as JSON), model (its
// shape), features, classes, input, ae_type, threshold (how it was chosen,
// as JSON), calibration and jitter.
const (
	// DetectorFormat is the metadata "format" value of a detector file.
	DetectorFormat = "vmdls-detector"
	// DetectorFormatVersion is the layout this package writes and the only
	// one LoadDetector reads; it changes whenever the layout does.
	DetectorFormatVersion = "1"
)

// Limits LoadDetector enforces before building anything from a file, so a
// corrupt or hostile file is an error and not an allocation of its
// declared sizes: the file (4 GiB holds a CIFAR-100 DenseNet detector's
// 100 Gaussians of dimension 1,006 with room to spare), the feature and
// latent widths, and the metadata strings.
const (
	maxDetectorBytes  = 4 << 30
	maxDetectorDim    = 1 << 13
	maxDetectorMeta   = 1 << 20
	maxClassNameBytes = 1 << 10
)

// detectorModel is the "model" metadata: what rebuilds the network.
type detectorModel struct {
	EncType   string `json:"enc_type"`
	LatentDim int    `json:"latent_dim"`
	EncOutDim int    `json:"enc_out_dim"`
	ClassNum  int    `json:"class_num"`
}

// detectorInput is the "input" metadata: the image shape.
type detectorInput struct {
	Channels int `json:"channels"`
	Height   int `json:"height"`
	Width    int `json:"width"`
}

// detectorCalibration is the "calibration" metadata.
type detectorCalibration struct {
	Set    string `json:"set"`
	Images int    `json:"images"`
}

// configJSON is cfg as the file records it.
func configJSON(cfg Config) string {
	b, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Sprintf("%q", err.Error())
	}
	return string(b)
}

// Save writes the detector to path atomically (safetensors.WriteFile: a
// temporary file, synced and renamed), so a crash leaves the old file or
// the new one. Saving a loaded detector writes the same bytes.
func (d *Detector) Save(path string) error {
	ts, err := nn.StateTensors(d.model, "model.")
	if err != nil {
		return fmt.Errorf("ovd: saving detector %s: %w", path, err)
	}
	meta := map[string]string{
		"format":         DetectorFormat,
		"format_version": DetectorFormatVersion,
		"vmdls_version":  d.info.Version,
		"command":        d.info.Command,
		"config":         d.info.Config,
		"features":       d.FeatureSet(),
		"jitter":         strconv.Itoa(d.jitter),
	}
	put := func(key string, v any) {
		b, _ := json.Marshal(v) // plain structs of strings and numbers
		meta[key] = string(b)
	}
	put("model", detectorModel{EncType: d.encType, LatentDim: d.model.LatentDim, EncOutDim: d.model.EncOutDim, ClassNum: len(d.gs)})
	put("classes", d.classes)
	put("input", detectorInput{d.input.Channels, d.input.Height, d.input.Width})
	put("calibration", detectorCalibration{d.info.Calibration, d.info.CalibrationImages})
	thr := d.thr
	if math.IsInf(thr.Value, 0) || math.IsNaN(thr.Value) {
		return fmt.Errorf("ovd: saving detector %s: threshold %v", path, thr.Value)
	}
	put("threshold", thr)
	if d.ae != nil {
		kind, ok := aeKindOf(d.ae)
		if !ok {
			return fmt.Errorf("ovd: saving detector %s: autoencoder %T has no kind", path, d.ae)
		}
		meta[aeMetaType] = kind
		aets, err := nn.StateTensors(d.ae, "ae.")
		if err != nil {
			return fmt.Errorf("ovd: saving detector %s: %w", path, err)
		}
		ts = append(ts, aets...)
		ts = append(ts, safetensors.FromFloat64("score.recon_max", []int{1}, []float64{d.rmax}))
	}
	C, D := len(d.gs), d.gs[0].Dim()
	means := make([]float64, 0, C*D)
	chol := make([]float64, 0, C*D*D)
	for _, g := range d.gs {
		means = append(means, g.Mean...)
		chol = append(chol, g.factor()...)
	}
	ts = append(ts,
		safetensors.FromFloat64("gauss.mean", []int{C, D}, means),
		safetensors.FromFloat64("gauss.chol", []int{C, D, D}, chol),
		safetensors.FromFloat32("input.mean", []int{d.input.Channels}, d.input.Mean),
		safetensors.FromFloat32("input.std", []int{d.input.Channels}, d.input.Std),
		safetensors.FromFloat64("score.offset", []int{1}, []float64{d.offset}),
		safetensors.FromFloat64("threshold", []int{1}, []float64{thr.Value}),
	)
	if err := safetensors.WriteFile(path, ts, meta); err != nil {
		return fmt.Errorf("ovd: saving detector: %w", err)
	}
	return nil
}

// LoadDetector reads a detector file that Save wrote. The file is treated
// as untrusted: it must be a regular file of at most 4 GiB, a valid
// safetensors file (whose reader bounds the header and checks every
// offset), of this format and version (another version is refused with a
// message naming the file and both versions); every tensor must have the
// shape the metadata implies and finite values, the Cholesky factors a
// positive diagonal, and the model and autoencoder weights must match
// their networks exactly. Errors name the file and match IsInputError.
func LoadDetector(path string) (*Detector, error) {
	if err := checkRegularFile(path); err != nil {
		return nil, inputErrorf("detector: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, inputErrorf("detector: %w", err)
	}
	if st.Size() > maxDetectorBytes {
		return nil, inputErrorf("detector %s: %d bytes, over the %d-byte limit of a detector file", path, st.Size(), int64(maxDetectorBytes))
	}
	// The header first: a file of another format or version is refused
	// before its tensors are read.
	h, err := safetensors.ReadHeader(path)
	if err != nil {
		return nil, inputErrorf("detector: %w", err)
	}
	if err := checkDetectorVersion(path, h.Metadata); err != nil {
		return nil, err
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, inputErrorf("detector: %w", err)
	}
	d, err := detectorFromFile(f)
	if err != nil {
		return nil, inputErrorf("detector %s: %w", path, err)
	}
	return d, nil
}

// checkDetectorVersion refuses metadata that is not a detector file of
// DetectorFormatVersion.
func checkDetectorVersion(path string, md map[string]string) error {
	if md["format"] != DetectorFormat {
		return inputErrorf("detector %s: not a vmdls detector file (metadata format %q, want %q)", path, md["format"], DetectorFormat)
	}
	if v := md["format_version"]; v != DetectorFormatVersion {
		return inputErrorf("detector %s: format version %q, but this vmdls (%s) reads version %q only; fit the detector again with this version",
			path, v, moduleVersion(), DetectorFormatVersion)
	}
	return nil
}

// detectorFromFile builds a Detector from a parsed file, checking it as
// LoadDetector says.
func detectorFromFile(f *safetensors.File) (*Detector, error) {
	md := f.Metadata
	if err := checkDetectorVersion(f.Name, md); err != nil {
		return nil, err
	}
	for k, v := range md {
		if len(v) > maxDetectorMeta {
			return nil, fmt.Errorf("metadata %q is %d bytes, over %d", k, len(v), maxDetectorMeta)
		}
	}
	var mm detectorModel
	if err := unmarshalMeta(md, "model", &mm); err != nil {
		return nil, err
	}
	enc, ok := backbone.LookupEncoder(mm.EncType)
	switch {
	case !ok:
		return nil, fmt.Errorf("model: unknown enc_type %q", mm.EncType)
	case mm.LatentDim < 1 || mm.LatentDim > maxDetectorDim:
		return nil, fmt.Errorf("model: latent_dim %d out of 1..%d", mm.LatentDim, maxDetectorDim)
	case mm.ClassNum < 2 || mm.ClassNum > data.MaxClasses:
		return nil, fmt.Errorf("model: class_num %d out of 2..%d", mm.ClassNum, data.MaxClasses)
	case mm.EncOutDim != enc.OutDim:
		return nil, fmt.Errorf("model: enc_out_dim %d, but %s's output width is %d", mm.EncOutDim, mm.EncType, enc.OutDim)
	}
	cfg := Config{EncType: mm.EncType, LatentDim: mm.LatentDim, EncOutDim: mm.EncOutDim, ClassNum: mm.ClassNum}
	model, err := buildModel(&cfg)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if err := loadPrefixed(f, "model.", model); err != nil {
		return nil, fmt.Errorf("model weights: %w", err)
	}
	nn.SetTraining(model, false)
	d := &Detector{model: model, encType: mm.EncType, chunk: backbone.DefaultInferChunk}

	var in detectorInput
	if err := unmarshalMeta(md, "input", &in); err != nil {
		return nil, err
	}
	if in.Channels != enc.Channels || in.Height != enc.Height || in.Width != enc.Width {
		return nil, fmt.Errorf("input %dx%dx%d, but the %s encoder takes %dx%dx%d", in.Channels, in.Height, in.Width, mm.EncType, enc.Channels, enc.Height, enc.Width)
	}
	d.input = InputSpec{Channels: in.Channels, Height: in.Height, Width: in.Width}
	if d.input.Mean, err = float32Tensor(f, "input.mean", []int{in.Channels}); err != nil {
		return nil, err
	}
	if d.input.Std, err = float32Tensor(f, "input.std", []int{in.Channels}); err != nil {
		return nil, err
	}
	for c, s := range d.input.Std {
		if s == 0 {
			return nil, fmt.Errorf("input.std[%d] is 0", c)
		}
	}

	switch md["features"] {
	case featuresEnsemble:
	case featuresLatent:
		d.latent = true
	default:
		return nil, fmt.Errorf("features %q: want %s or %s", md["features"], featuresEnsemble, featuresLatent)
	}
	D := mm.LatentDim
	if !d.latent {
		td := model.Enc.(backbone.Tapped).TapDims()
		D = td[0] + td[1] + td[2] + mm.EncOutDim + mm.LatentDim
	}
	C := mm.ClassNum
	means, err := float64Tensor(f, "gauss.mean", []int{C, D})
	if err != nil {
		return nil, err
	}
	chol, err := float64Tensor(f, "gauss.chol", []int{C, D, D})
	if err != nil {
		return nil, err
	}
	for c := range C {
		u := chol[c*D*D : (c+1)*D*D]
		for i := range D {
			if !(u[i*D+i] > 0) {
				return nil, fmt.Errorf("gauss.chol: class %d's factor has diagonal entry %d = %v, want > 0", c, i, u[i*D+i])
			}
			for j := range i {
				if u[i*D+j] != 0 {
					return nil, fmt.Errorf("gauss.chol: class %d's factor is not upper triangular (entry %d,%d = %v)", c, i, j, u[i*D+j])
				}
			}
		}
		d.gs = append(d.gs, gaussianFromFactor(means[c*D:(c+1)*D], u))
	}

	if err := unmarshalMeta(md, "classes", &d.classes); err != nil {
		return nil, err
	}
	if len(d.classes) != C {
		return nil, fmt.Errorf("classes: %d names for %d classes", len(d.classes), C)
	}
	for i, s := range d.classes {
		if len(s) > maxClassNameBytes {
			return nil, fmt.Errorf("classes: name %d is %d bytes, over %d", i, len(s), maxClassNameBytes)
		}
	}
	off, err := float64Tensor(f, "score.offset", []int{1})
	if err != nil {
		return nil, err
	}
	d.offset = off[0]
	if err := unmarshalMeta(md, "threshold", &d.thr); err != nil {
		return nil, err
	}
	tv, err := float64Tensor(f, "threshold", []int{1})
	if err != nil {
		return nil, err
	}
	if tv[0] != d.thr.Value {
		return nil, fmt.Errorf("threshold: tensor %v and metadata %v differ", tv[0], d.thr.Value)
	}
	if d.thr.Method != ThresholdKnownTPR && d.thr.Method != ThresholdBestF1 {
		return nil, fmt.Errorf("threshold: method %q: want %s or %s", d.thr.Method, ThresholdKnownTPR, ThresholdBestF1)
	}
	if d.jitter, err = strconv.Atoi(md["jitter"]); err != nil || d.jitter < 0 {
		return nil, fmt.Errorf("jitter %q: want a count", md["jitter"])
	}

	_, hasRmax := f.Get("score.recon_max")
	if kind, ok := md[aeMetaType]; ok || hasRmax {
		if d.ae, err = newAutoencoder(kind, rand.New(rand.NewPCG(0, 0))); err != nil {
			return nil, fmt.Errorf("autoencoder: %w", err)
		}
		if !aeTakes(kind, in.Channels, in.Height, in.Width) {
			return nil, fmt.Errorf("autoencoder %q does not take the detector's %dx%dx%d images", kind, in.Channels, in.Height, in.Width)
		}
		if err := loadPrefixed(f, "ae.", d.ae); err != nil {
			return nil, fmt.Errorf("autoencoder weights: %w", err)
		}
		nn.SetTraining(d.ae, false)
		rm, err := float64Tensor(f, "score.recon_max", []int{1})
		if err != nil {
			return nil, err
		}
		if d.rmax = rm[0]; !(d.rmax > 0) {
			return nil, fmt.Errorf("score.recon_max %v: want > 0", d.rmax)
		}
	}
	// Every tensor must be one of the above: a file with more is not one
	// Save wrote.
	known := map[string]bool{"gauss.mean": true, "gauss.chol": true, "input.mean": true, "input.std": true,
		"score.offset": true, "score.recon_max": d.ae != nil, "threshold": true}
	for _, t := range f.Tensors {
		if !known[t.Name] && !strings.HasPrefix(t.Name, "model.") && !(d.ae != nil && strings.HasPrefix(t.Name, "ae.")) {
			return nil, fmt.Errorf("unexpected tensor %q", t.Name)
		}
	}
	var cal detectorCalibration
	if err := unmarshalMeta(md, "calibration", &cal); err != nil {
		return nil, err
	}
	d.info = DetectorInfo{Version: md["vmdls_version"], Command: md["command"], Config: md["config"],
		Calibration: cal.Set, CalibrationImages: cal.Images}
	return d, nil
}

// unmarshalMeta decodes metadata key as JSON into v.
func unmarshalMeta(md map[string]string, key string, v any) error {
	s, ok := md[key]
	if !ok {
		return fmt.Errorf("no %q metadata", key)
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("metadata %q: %w", key, err)
	}
	return nil
}

// loadPrefixed loads the tensors of f under prefix into m, strictly (every
// key of m, none more, same shapes and dtypes), and checks that m's
// weights are finite.
func loadPrefixed(f *safetensors.File, prefix string, m nn.Module) error {
	var ts []safetensors.Tensor
	for _, t := range f.Tensors {
		if name, ok := strings.CutPrefix(t.Name, prefix); ok {
			t.Name = name
			ts = append(ts, t)
		}
	}
	sub, err := safetensors.NewFile(f.Name, ts, nil)
	if err != nil {
		return err
	}
	ck := &nn.Checkpoint{Path: f.Name, File: sub, Metadata: map[string]string{}}
	if _, err := ck.LoadModel(m, true); err != nil {
		return err
	}
	return nn.CheckFinite(m)
}

// float64Tensor returns the finite F64 values of tensor name of the given
// shape.
func float64Tensor(f *safetensors.File, name string, shape []int) ([]float64, error) {
	return finiteTensor(f, name, safetensors.F64, shape, safetensors.Tensor.Float64s)
}

// float32Tensor is float64Tensor for F32.
func float32Tensor(f *safetensors.File, name string, shape []int) ([]float32, error) {
	return finiteTensor(f, name, safetensors.F32, shape, safetensors.Tensor.Float32s)
}

func finiteTensor[T float32 | float64](f *safetensors.File, name string, dt safetensors.DType, shape []int, values func(safetensors.Tensor) ([]T, error)) ([]T, error) {
	t, err := shapedTensor(f, name, dt, shape)
	if err != nil {
		return nil, err
	}
	v, err := values(t)
	if err != nil {
		return nil, err
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%s[%d] = %v, want a finite number", name, i, x)
		}
	}
	return v, nil
}

func shapedTensor(f *safetensors.File, name string, dt safetensors.DType, shape []int) (safetensors.Tensor, error) {
	t, ok := f.Get(name)
	if !ok {
		return t, fmt.Errorf("no tensor %q", name)
	}
	if t.DType != dt || fmt.Sprint(t.Shape) != fmt.Sprint(shape) {
		return t, fmt.Errorf("tensor %q is %s %v, want %s %v", name, t.DType, t.Shape, dt, shape)
	}
	return t, nil
}
