package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vmdls-go/vmdls/ovd"
	"github.com/vmdls-go/vmdls/safetensors"
	"github.com/vmdls-go/vmdls/torchfile"
)

// metaFlag collects repeated --metadata KEY=VALUE flags.
type metaFlag map[string]string

func (m metaFlag) String() string { return "" }

func (m metaFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, not %q", v)
	}
	m[k] = val
	return nil
}

// runConvert writes a PyTorch checkpoint's state_dict and metadata as the
// safetensors checkpoint every other command reads.
func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := commandFlags("convert")
	keep64 := fs.Bool("keep_float64", false, "keep float64 tensors as F64 (default: rounded to F32, what vmdls models hold)")
	aeType := fs.String("ae_type", "auto", "mark the output as an autoencoder for --ae_path: mnist, resnet18, auto (from the fc head's shape) or none")
	prefix := fs.String("prefix", "", "keep only the keys that start with this prefix, without it (ae. takes the autoencoder the reference keeps inside its model)")
	meta := metaFlag{}
	fs.Var(meta, "metadata", "add a metadata entry KEY=VALUE (repeatable)")
	names, err := parseWithNames(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, "convert [flags] IN OUT.safetensors", "IN is a PyTorch checkpoint (torch.save's zip or legacy format: a state_dict,\na Lightning .ckpt, a .pth.tar snapshot); no Python is needed.", fs)
		return errHelpShown
	}
	if err != nil {
		return parseFailed("convert [flags] IN OUT.safetensors", fs, err, stdout)
	}
	if len(names) != 2 {
		return usageErrorf("convert: want IN OUT.safetensors, got %d arguments", len(names))
	}
	in, out := names[0], names[1]
	if !strings.HasSuffix(out, ".safetensors") {
		return usageErrorf("convert: the output %s should end in .safetensors", out)
	}
	if a, b := filepath.Clean(in), filepath.Clean(out); a == b {
		return usageErrorf("convert: %s is both input and output", in)
	}
	switch *aeType {
	case "auto", "none", "mnist", "resnet18":
	default:
		return usageErrorf("convert: --ae_type %q: want mnist, resnet18, auto or none", *aeType)
	}
	format, err := torchfile.DetectFile(in)
	if err != nil {
		return usageErrorf("convert: %v", err)
	}
	if format == torchfile.Unknown {
		if _, herr := safetensors.ReadHeader(in); herr == nil {
			return usageErrorf("convert: %s is already a safetensors file; use it as it is", in)
		}
		return usageErrorf("convert: %s is not a PyTorch checkpoint (neither torch.save's zip nor its legacy format)", in)
	}
	f, err := torchfile.ReadFile(in, &torchfile.Options{KeepFloat64: *keep64})
	if err != nil {
		return usageErrorf("convert: %v", err)
	}
	if *prefix != "" {
		var kept []safetensors.Tensor
		var infos []torchfile.TensorInfo
		for i, t := range f.Tensors {
			if name, ok := strings.CutPrefix(t.Name, *prefix); ok && name != "" {
				t.Name = name
				kept = append(kept, t)
				info := f.Header.Tensors[i]
				info.Name = name
				infos = append(infos, info)
			}
		}
		if len(kept) == 0 {
			return usageErrorf("convert: no key of %s starts with --prefix %q", in, *prefix)
		}
		f.Notes = append(f.Notes, fmt.Sprintf("kept the %d of %d keys under %q, without it", len(kept), len(f.Tensors), *prefix))
		f.Tensors, f.Header.Tensors = kept, infos
	}
	md := maps.Clone(f.Metadata)
	if kind := aeKind(*aeType, f.Header.Tensors); kind != "" {
		md["ae_type"] = kind
	}
	maps.Copy(md, meta)
	if err := safetensors.WriteFile(out, f.Tensors, md); err != nil {
		return &exitError{1, fmt.Errorf("convert: %w", err)}
	}
	var size int
	for _, t := range f.Tensors {
		size += len(t.Data)
	}
	where := "a state_dict"
	if f.StateDictKey != "" {
		where = fmt.Sprintf("the state_dict under %q", f.StateDictKey)
	}
	fmt.Fprintf(stdout, "%s: %s format, %s: %d tensors (%s)\n", in, f.Format, where, len(f.Tensors), humanBytes(size))
	for _, n := range f.Notes {
		fmt.Fprintf(stdout, "  %s\n", n)
	}
	if k := md["ae_type"]; k != "" {
		fmt.Fprintf(stdout, "  marked as a %s autoencoder (ae_type) for --ae_path\n", k)
	}
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return nil
}

// aeKind is the ae_type to record: the one asked for, or with "auto" the
// kind ovd.AutoencoderKind reads from the layers' shapes.
func aeKind(want string, ts []torchfile.TensorInfo) string {
	switch want {
	case "none":
		return ""
	case "mnist", "resnet18":
		return want
	}
	shapes := make(map[string][]int, len(ts))
	for _, t := range ts {
		shapes[t.Name] = t.Shape
	}
	return ovd.AutoencoderKind(shapes)
}

func humanBytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// runInfoCheckpoint prints what a checkpoint (safetensors or PyTorch)
// holds: its format, keys, epoch and step, the settings it was trained
// with, and its hyper_parameters and other metadata. It reads no tensor
// data.
func runInfoCheckpoint(path string, asJSON bool, w io.Writer) error {
	st, err := os.Stat(path)
	if err != nil {
		return usageErrorf("info: --checkpoint: %v", err)
	}
	if !st.Mode().IsRegular() {
		return usageErrorf("info: --checkpoint %s is not a regular file", path)
	}
	type tensorInfo struct {
		Name  string
		DType safetensors.DType
		Shape []int
	}
	var (
		format  string
		sdKey   string
		tensors []tensorInfo
		md      map[string]string
		notes   []string
	)
	if h, err := safetensors.ReadHeader(path); err == nil {
		format = "safetensors"
		md = h.Metadata
		for _, t := range h.Tensors {
			tensors = append(tensors, tensorInfo{t.Name, t.DType, t.Shape})
		}
	} else if !errors.Is(err, safetensors.ErrFormat) {
		return usageErrorf("info: %v", err)
	} else {
		th, ok, terr := readTorchInfo(path)
		if !ok {
			return usageErrorf("info: %s is neither a safetensors file nor a PyTorch checkpoint (%v)", path, err)
		}
		if terr != nil {
			return usageErrorf("info: %v", terr)
		}
		format = "PyTorch " + th.Format.String()
		sdKey, md, notes = th.StateDictKey, th.Metadata, th.Notes
		for _, t := range th.Tensors {
			tensors = append(tensors, tensorInfo{t.Name, t.DType, t.Shape})
		}
	}
	var params int64
	groups := map[string]int{}
	var order []string
	for _, t := range tensors {
		n := int64(1)
		for _, d := range t.Shape {
			n *= int64(d)
		}
		params += n
		g, _, _ := strings.Cut(t.Name, ".")
		if groups[g] == 0 {
			order = append(order, g)
		}
		groups[g]++
	}
	rec := ovd.TrainedWith(md)
	hp := md["hyper_parameters"]
	if hp == "" {
		hp = md["hparams"]
	}
	other := map[string]string{}
	for k, v := range md {
		if k != "hyper_parameters" && k != "hparams" && k != "epoch" && k != "global_step" {
			other[k] = v
		}
	}
	if asJSON {
		out := map[string]any{"file": path, "format": format, "tensors": len(tensors), "elements": params, "metadata": other}
		if sdKey != "" {
			out["state_dict_key"] = sdKey
		}
		for _, k := range []string{"epoch", "global_step"} {
			if v, ok := md[k]; ok {
				out[k] = json.RawMessage(jsonOrString(v))
			}
		}
		if hp != "" {
			out["hyper_parameters"] = json.RawMessage(jsonOrString(hp))
		}
		if rec.Known() {
			out["trained_with"] = rec
		}
		return json.NewEncoder(w).Encode(out)
	}
	fmt.Fprintf(w, "file:         %s\n", path)
	if sdKey != "" {
		format += fmt.Sprintf(", state_dict under %q", sdKey)
	}
	fmt.Fprintf(w, "format:       %s\n", format)
	var gs []string
	for _, g := range order {
		gs = append(gs, fmt.Sprintf("%s.* %d", g, groups[g]))
	}
	fmt.Fprintf(w, "keys:         %d (%d elements): %s\n", len(tensors), params, strings.Join(gs, ", "))
	for _, k := range []string{"epoch", "global_step"} {
		if v, ok := md[k]; ok {
			fmt.Fprintf(w, "%-13s %s\n", k+":", v)
		}
	}
	if rec.Known() {
		var fl []string
		if rec.EncType != "" {
			fl = append(fl, "--enc_type "+rec.EncType)
		}
		if rec.LatentDim != nil {
			fl = append(fl, fmt.Sprintf("--latent_dim %d", *rec.LatentDim))
		}
		if rec.ClassNum != nil {
			fl = append(fl, fmt.Sprintf("--class_num %d", *rec.ClassNum))
		}
		fmt.Fprintf(w, "trained with: %s (from %s)\n", strings.Join(fl, " "), rec.From)
	}
	for _, n := range notes {
		fmt.Fprintf(w, "note:         %s\n", n)
	}
	if hp != "" {
		fmt.Fprintln(w, "hyper_parameters:")
		printJSONObject(w, hp)
	}
	if len(other) > 0 {
		fmt.Fprintln(w, "metadata:")
		keys := slices.Sorted(maps.Keys(other))
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %s\n", k, clipText(other[k], 200))
		}
	}
	return nil
}

// readTorchInfo reads a PyTorch checkpoint's header; ok is false when the
// file is not one.
func readTorchInfo(path string) (*torchfile.Header, bool, error) {
	format, err := torchfile.DetectFile(path)
	if err != nil || format == torchfile.Unknown {
		return nil, false, err
	}
	h, err := torchfile.ReadHeader(path)
	return h, true, err
}

// printJSONObject prints a JSON object's entries one a line, in order.
func printJSONObject(w io.Writer, js string) {
	dec := json.NewDecoder(strings.NewReader(js))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		fmt.Fprintf(w, "  %s\n", clipText(js, 200))
		return
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return
		}
		fmt.Fprintf(w, "  %v: %s\n", k, clipText(string(v), 200))
	}
}

// jsonOrString is v itself when it is JSON, else v as a JSON string.
func jsonOrString(v string) []byte {
	if json.Valid([]byte(v)) {
		return []byte(v)
	}
	b, _ := json.Marshal(v)
	return b
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
