package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vmdls-go/vmdls/ovd"
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
	aeType := fs.String("ae_type", "auto", "mark the output as an autoencoder for --ae_path: mnist, resnet18, resnet50, auto (from the fc head's shape) or none")
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
	case "auto", "none", "mnist", "resnet18", "resnet50":
	default:
		return usageErrorf("convert: --ae_type %q: want mnist, resnet18, resnet50, auto or none", *aeType)
	}
	res, err := ovd.ConvertPyTorch(in, out, ovd.ConvertOptions{KeepFloat64: *keep64, Prefix: *prefix, AEType: *aeType, Metadata: meta})
	if ovd.IsInputError(err) {
		return usageErrorf("convert: %v", err)
	}
	if err != nil {
		return &exitError{1, fmt.Errorf("convert: %w", err)}
	}
	where := "a state_dict"
	if res.StateDictKey != "" {
		where = fmt.Sprintf("the state_dict under %q", res.StateDictKey)
	}
	fmt.Fprintf(stdout, "%s: %s format, %s: %d tensors (%s)\n", in, res.Format, where, res.Tensors, humanBytes(res.Bytes))
	for _, n := range res.Notes {
		fmt.Fprintf(stdout, "  %s\n", n)
	}
	if res.AEType != "" {
		fmt.Fprintf(stdout, "  marked as a %s autoencoder (ae_type) for --ae_path\n", res.AEType)
	}
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return nil
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
	info, err := ovd.ReadCheckpointInfo(path)
	if err != nil {
		return usageErrorf("info: --checkpoint: %v", err)
	}
	format, sdKey, tensors, md, notes := info.Format, info.StateDictKey, info.Tensors, info.Metadata, info.Notes
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
	rec, hp := info.TrainedWith, info.HyperParameters()
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
