package golden

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// committed lists the files gen_golden.py writes.
var committed = []string{"ops.safetensors", "gemm.safetensors"}

// fileKeys are the __metadata__ entries that describe the file rather than a case.
var fileKeys = map[string]bool{"format": true, "generator": true, "torch_version": true, "numpy_version": true}

// families and the ops each may hold; the lead's comparison tests dispatch on these.
var familyOps = map[string][]string{
	"elementwise": {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "add_scalar", "mul_scalar", "pow_scalar",
		"neg", "exp", "log", "sqrt", "abs", "relu", "sigmoid", "tanh", "square", "clamp"},
	"compare": {"gt", "ge", "lt", "le", "eq", "ne", "gt_scalar", "ge_scalar", "lt_scalar", "le_scalar", "eq_scalar", "where"},
	"reduce":  {"sum", "mean", "max", "min", "logsumexp"},
	"softmax": {"softmax", "log_softmax"},
	"shape":   {"reshape", "permute", "transpose", "narrow", "index_select", "cat", "stack", "expand"},
	"gemm":    {"matmul", "matmul_t", "linear"},
}

func loadCommitted(t *testing.T, name string) *File {
	t.Helper()
	f, err := Load(Path(name))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPath(t *testing.T) {
	p := Path("ops.safetensors")
	if !filepath.IsAbs(p) {
		t.Errorf("Path gave %q, want an absolute path", p)
	}
	if !strings.HasSuffix(filepath.ToSlash(p), "internal/golden/testdata/ops.safetensors") {
		t.Errorf("Path gave %q", p)
	}
	if _, err := os.Stat(p); err != nil {
		t.Error(err)
	}
}

// TestCommittedStructure checks that every committed case is complete and consistent:
// metadata present and well-formed, inputs/out/w/grads present with matching shapes, no
// stray tensors, known ops, and every op of the issue covered.
func TestCommittedStructure(t *testing.T) {
	seenOps := map[string]bool{}
	total := int64(0)
	for _, fn := range committed {
		f := loadCommitted(t, fn)
		st, err := os.Stat(Path(fn))
		if err != nil {
			t.Fatal(err)
		}
		total += st.Size()
		md := f.Metadata()
		if !strings.HasPrefix(md["torch_version"], "1.13") {
			t.Errorf("%s: torch_version %q, want the 1.13 the README states", fn, md["torch_version"])
		}
		if md["generator"] != "internal/golden/testdata/gen_golden.py" {
			t.Errorf("%s: generator %q", fn, md["generator"])
		}
		cases := f.Cases()
		if len(cases) == 0 {
			t.Fatalf("%s: no cases", fn)
		}
		if !slices.IsSorted(cases) {
			t.Errorf("%s: Cases not sorted", fn)
		}
		isCase := map[string]bool{}
		for _, c := range cases {
			isCase[c] = true
		}
		for k := range md {
			if !fileKeys[k] && !isCase[k] {
				t.Errorf("%s: metadata key %q is neither a file key nor a case with an out tensor", fn, k)
			}
		}
		for _, name := range f.Names() {
			c, suffix, ok := strings.Cut(name, ".")
			if !ok || !isCase[c] || !validSuffix(suffix) {
				t.Errorf("%s: stray tensor %q", fn, name)
			}
			_, data, err := f.Tensor(name)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Errorf("%s: %s[%d] = %v", fn, name, i, v)
					break
				}
			}
		}
		for _, name := range cases {
			c, err := f.Case(name)
			if err != nil {
				t.Error(err)
				continue
			}
			checkCase(t, fn, c)
			seenOps[c.Op] = true
		}
	}
	for _, ops := range familyOps {
		for _, op := range ops {
			if !seenOps[op] {
				t.Errorf("no golden case for op %q", op)
			}
		}
	}
	if total > 4<<20 {
		t.Errorf("committed golden files total %d bytes, over the 4 MiB budget", total)
	}
}

func validSuffix(s string) bool {
	switch s {
	case "out", "w", "indices":
		return true
	}
	for _, p := range []string{"in", "grad"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			_, err := strconv.Atoi(rest)
			return err == nil
		}
	}
	return false
}

func checkCase(t *testing.T, fn string, c *Case) {
	t.Helper()
	where := fn + ": " + c.Name
	if !slices.Contains(familyOps[c.Family], c.Op) {
		t.Errorf("%s: op %q not in family %q", where, c.Op, c.Family)
	}
	if ref, _ := c.Params["ref"].(string); ref != "float64" {
		t.Errorf("%s: ref %q", where, ref)
	}
	if strings.Contains(c.Name, ".") {
		t.Errorf("%s: case name contains '.'", where)
	}
	if len(c.Inputs) == 0 {
		t.Errorf("%s: no inputs", where)
	}
	for i, in := range c.Inputs {
		if len(in.Data) != prod(in.Shape) {
			t.Errorf("%s: in%d has %d values for shape %v", where, i, len(in.Data), in.Shape)
		}
	}
	nGrads := 0
	for _, g := range c.Grads {
		if g != nil {
			nGrads++
		}
	}
	if c.Family == "compare" && c.Op != "where" {
		if c.W != nil || nGrads != 0 {
			t.Errorf("%s: a comparison should be forward-only", where)
		}
		for i, v := range c.Out.Data {
			if v != 0 && v != 1 {
				t.Errorf("%s: out[%d] = %v, want 0 or 1", where, i, v)
				break
			}
		}
	} else if c.W == nil || nGrads == 0 {
		t.Errorf("%s: differentiable op without w or gradients", where)
	}
	if (c.Op == "max" || c.Op == "min") != (c.Indices != nil) {
		t.Errorf("%s: indices present=%v for op %s", where, c.Indices != nil, c.Op)
	}
	// Parameters each op needs, with the types the Go driver will read them as.
	need := map[string][]string{
		"sum": {"axes", "keepdim"}, "mean": {"axes", "keepdim"},
		"max": {"axis", "keepdim"}, "min": {"axis", "keepdim"}, "logsumexp": {"axis", "keepdim"},
		"softmax": {"axis"}, "log_softmax": {"axis"},
		"reshape": {"shape"}, "expand": {"shape"}, "permute": {"perm"}, "transpose": {"dim0", "dim1"},
		"narrow": {"axis", "start", "length"}, "index_select": {"axis", "index"},
		"cat": {"axis"}, "stack": {"axis"},
		"matmul_t": {"transA", "transB"}, "linear": {"bias"},
		"add_scalar": {"scalar"}, "mul_scalar": {"scalar"}, "pow_scalar": {"exponent"},
	}
	for _, k := range need[c.Op] {
		var ok bool
		switch k {
		case "axes", "shape", "perm", "index":
			_, ok = c.Ints(k)
		case "keepdim", "transA", "transB", "bias":
			_, ok = c.Bool(k)
		case "scalar", "exponent":
			_, ok = c.Float(k)
		default:
			_, ok = c.Int(k)
		}
		if !ok {
			t.Errorf("%s: parameter %q missing or of the wrong type", where, k)
		}
	}
	if strings.HasSuffix(c.Op, "_scalar") && c.Family == "compare" {
		if _, ok := c.Float("scalar"); !ok {
			t.Errorf("%s: no scalar", where)
		}
	}
	if c.Op == "clamp" {
		_, lo := c.Float("lo")
		_, hi := c.Float("hi")
		if !lo && !hi {
			t.Errorf("%s: clamp without bounds", where)
		}
	}
	if c.Op == "linear" {
		b, _ := c.Bool("bias")
		if want := map[bool]int{true: 3, false: 2}[b]; len(c.Inputs) != want {
			t.Errorf("%s: bias=%v with %d inputs", where, b, len(c.Inputs))
		}
	}
}

func prod(s []int) int {
	p := 1
	for _, d := range s {
		p *= d
	}
	return p
}

// TestDecodedValues checks the reader's decoding against relations that hold exactly in
// float32, independent of the engine being tested: a float32 sum or product of two
// float32 values, rounded once from float64 by the generator, equals Go's float32 result;
// reshape keeps the data; max values sit at their indices; comparisons match.
func TestDecodedValues(t *testing.T) {
	f := loadCommitted(t, "ops.safetensors")
	get := func(name string) *Case {
		c, err := f.Case(name)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name string
		op   func(a, b float32) float32
	}{
		{"add_same", func(a, b float32) float32 { return a + b }},
		{"sub_same", func(a, b float32) float32 { return a - b }},
		{"mul_same", func(a, b float32) float32 { return a * b }},
		{"gt_same", func(a, b float32) float32 { return b2f(a > b) }},
		{"eq_same", func(a, b float32) float32 { return b2f(a == b) }},
	} {
		c := get(tc.name)
		for i := range c.Out.Data {
			if got, want := c.Out.Data[i], tc.op(c.Inputs[0].Data[i], c.Inputs[1].Data[i]); got != want {
				t.Fatalf("%s: out[%d] = %v, float32 gives %v", tc.name, i, got, want)
			}
		}
	}
	// Gradients of add: w itself for same shapes.
	c := get("add_same")
	if !slices.Equal(c.Grads[0].Data, c.W.Data) || !slices.Equal(c.Grads[1].Data, c.W.Data) {
		t.Errorf("add_same: gradients differ from w")
	}
	c = get("reshape_2d")
	if !slices.Equal(c.Out.Data, c.Inputs[0].Data) || !slices.Equal(c.Out.Shape, []int{4, 6}) {
		t.Errorf("reshape_2d: out %v differs from input", c.Out.Shape)
	}
	// max over axis 1 of [3,5,4]: out[i,k] = in[i, idx[i,k], k], and the gradient is w there.
	c = get("max_ax1")
	in, g := c.Inputs[0].Data, c.Grads[0].Data
	for i := 0; i < 3; i++ {
		for k := 0; k < 4; k++ {
			o := i*4 + k
			j := c.Indices[o]
			if in[i*20+j*4+k] != c.Out.Data[o] || g[i*20+j*4+k] != c.W.Data[o] {
				t.Errorf("max_ax1: index %d at (%d,%d) does not select the value or carry w", j, i, k)
			}
		}
	}
	c = get("max_ties")
	if !slices.Equal(c.Indices, []int{1, 0, 0}) {
		t.Errorf("max_ties: indices %v, want the first maximum [1 0 0]", c.Indices)
	}
	// Scalar shapes survive as [] with one value.
	c = get("add_bcast_scalar")
	if len(c.Inputs[1].Shape) != 0 || len(c.Inputs[1].Data) != 1 {
		t.Errorf("add_bcast_scalar: in1 shape %v with %d values, want a scalar", c.Inputs[1].Shape, len(c.Inputs[1].Data))
	}
	if _, err := f.Meta("no_such_case"); err == nil || !strings.Contains(err.Error(), "no_such_case") {
		t.Errorf("Meta of a missing case: %v", err)
	}
	if _, _, err := f.Tensor("no_such.out"); err == nil || !strings.Contains(err.Error(), "no_such.out") ||
		!strings.Contains(err.Error(), "ops.safetensors") {
		t.Errorf("Tensor of a missing name: %v", err)
	}
}

func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// build assembles a safetensors file from a raw JSON header and a data section.
func build(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// f32bytes encodes values as little-endian float32.
func f32bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

type spec struct {
	name  string
	shape []int
	vals  []float32
}

// buildValid writes the given tensors back to back and metadata as a well-formed file.
func buildValid(meta map[string]string, ts ...spec) []byte {
	h := map[string]any{}
	var data []byte
	for _, s := range ts {
		b := f32bytes(s.vals...)
		h[s.name] = map[string]any{"dtype": "F32", "shape": s.shape, "data_offsets": []int{len(data), len(data) + len(b)}}
		data = append(data, b...)
	}
	if meta != nil {
		h["__metadata__"] = meta
	}
	j, _ := json.Marshal(h)
	return build(string(j), data)
}

func TestRoundTrip(t *testing.T) {
	b := buildValid(map[string]string{"c": `{"op":"neg","inputs":1,"grads":[0]}`, "torch_version": "x"},
		spec{"c.in0", []int{2, 3}, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-40}},
		spec{"c.out", []int{}, []float32{7}},
		spec{"c.w", []int{}, []float32{2}},
		spec{"c.grad0", []int{2, 3}, []float32{6, 5, 4, 3, 2, 1}},
		spec{"empty", []int{0, 4}, nil},
	)
	f, err := LoadBytes("mem", b)
	if err != nil {
		t.Fatal(err)
	}
	shape, data, err := f.Tensor("c.in0")
	if err != nil || !slices.Equal(shape, []int{2, 3}) ||
		!slices.Equal(data, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-40}) {
		t.Errorf("c.in0: %v %v %v", shape, data, err)
	}
	shape, data, err = f.Tensor("empty")
	if err != nil || !slices.Equal(shape, []int{0, 4}) || len(data) != 0 {
		t.Errorf("empty: %v %v %v", shape, data, err)
	}
	if !f.Has("c.out") || f.Has("c.in1") {
		t.Errorf("Has is wrong")
	}
	if got := f.Cases(); !slices.Equal(got, []string{"c"}) {
		t.Errorf("Cases = %v", got)
	}
	c, err := f.Case("c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Op != "neg" || len(c.Inputs) != 1 || c.Grads[0] == nil || c.W == nil || c.Out.Data[0] != 7 {
		t.Errorf("Case = %+v", c)
	}
	if g, ok := c.Ints("grads"); !ok || !slices.Equal(g, []int{0}) {
		t.Errorf("Ints(grads) = %v %v", g, ok)
	}
	if _, ok := c.Int("op"); ok {
		t.Errorf("Int of a string parameter should fail")
	}
	// Returned slices are copies: writing them leaves the file intact.
	shape, data, _ = f.Tensor("c.in0")
	shape[0], data[0] = 99, 99
	if s2, d2, _ := f.Tensor("c.in0"); s2[0] != 2 || d2[0] != 1 {
		t.Errorf("Tensor returned shared storage: %v %v", s2, d2)
	}
}

// TestMalformed feeds hand-built broken files and checks each error names the file, the
// tensor where there is one, and what is wrong. The container's own checks (offsets,
// shapes, header bounds, JSON) are tested exhaustively in package safetensors; here a
// few show that its errors come through, and the rest test what golden adds.
func TestMalformed(t *testing.T) {
	data8 := f32bytes(1, 2)
	for _, tc := range []struct {
		name string
		file []byte
		want []string
	}{
		{"short", []byte{1, 2, 3}, []string{"too short"}},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), []string{"header length 100 exceeds"}},
		{"not json", build("hello", nil), []string{"not a JSON object"}},
		{"out of range", build(`{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, data8), []string{`"x"`, "outside"}},
		{"i64", build(`{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, data8), []string{`tensor "x"`, "I64", "only F32"}},
		{"f64", build(`{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, data8), []string{`tensor "x"`, "F64", "only F32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := LoadBytes("bad.safetensors", tc.file)
			if err == nil {
				t.Fatalf("loaded %v, want an error", f.Names())
			}
			msg := err.Error()
			for _, w := range append([]string{"bad.safetensors"}, tc.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

// TestMalformedCases checks the cross-checks Case makes between metadata and tensors.
func TestMalformedCases(t *testing.T) {
	one := []float32{1}
	two := []float32{1, 2}
	for _, tc := range []struct {
		name string
		meta string
		ts   []spec
		want string
	}{
		{"no metadata", "", []spec{{"c.in0", []int{1}, one}, {"c.out", []int{1}, one}}, "no metadata"},
		{"bad json", `{"op":`, []spec{{"c.in0", []int{1}, one}, {"c.out", []int{1}, one}}, "not a JSON object"},
		{"no op", `{"inputs":1,"grads":[]}`, []spec{{"c.in0", []int{1}, one}, {"c.out", []int{1}, one}}, `no "op"`},
		{"no inputs", `{"op":"neg","grads":[]}`, []spec{{"c.in0", []int{1}, one}, {"c.out", []int{1}, one}}, `"inputs"`},
		{"huge inputs", `{"op":"neg","inputs":1e15,"grads":[]}`, []spec{{"c.in0", []int{1}, one}, {"c.out", []int{1}, one}}, `"inputs"`},
		{"missing input", `{"op":"add","inputs":2,"grads":[]}`, []spec{{"c.in0", []int{1}, one}, {"c.out", []int{1}, one}}, `"c.in1"`},
		{"extra input", `{"op":"neg","inputs":1,"grads":[]}`, []spec{{"c.in0", []int{1}, one}, {"c.in1", []int{1}, one}, {"c.out", []int{1}, one}}, "more inputs"},
		{"missing out", `{"op":"neg","inputs":1,"grads":[]}`, []spec{{"c.in0", []int{1}, one}}, `"c.out"`},
		{"missing grad", `{"op":"neg","inputs":1,"grads":[0]}`, []spec{{"c.in0", []int{1}, one}, {"c.out", []int{1}, one}, {"c.w", []int{1}, one}}, `"c.grad0"`},
		{"grad out of range", `{"op":"neg","inputs":1,"grads":[3]}`, []spec{{"c.in0", []int{1}, one}, {"c.out", []int{1}, one}}, "gradient of input 3"},
		{"grad shape", `{"op":"neg","inputs":1,"grads":[0]}`, []spec{{"c.in0", []int{2}, two}, {"c.out", []int{1}, one}, {"c.w", []int{1}, one}, {"c.grad0", []int{1}, one}}, "grad0 shape [1] differs from in0 shape [2]"},
		{"unlisted grad", `{"op":"neg","inputs":1,"grads":[]}`, []spec{{"c.in0", []int{1}, one}, {"c.out", []int{1}, one}, {"c.grad0", []int{1}, one}}, "does not list"},
		{"no w", `{"op":"neg","inputs":1,"grads":[0]}`, []spec{{"c.in0", []int{1}, one}, {"c.out", []int{1}, one}, {"c.grad0", []int{1}, one}}, "no upstream weight"},
		{"w shape", `{"op":"neg","inputs":1,"grads":[0]}`, []spec{{"c.in0", []int{1}, one}, {"c.out", []int{1}, one}, {"c.w", []int{2}, two}, {"c.grad0", []int{1}, one}}, "w shape [2] differs from out shape [1]"},
		{"fractional index", `{"op":"max","inputs":1,"grads":[]}`, []spec{{"c.in0", []int{2}, two}, {"c.out", []int{1}, one}, {"c.indices", []int{1}, []float32{0.5}}}, "indices[0] = 0.5"},
		{"indices shape", `{"op":"max","inputs":1,"grads":[]}`, []spec{{"c.in0", []int{2}, two}, {"c.out", []int{1}, one}, {"c.indices", []int{2}, two}}, "indices shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := map[string]string{}
			if tc.meta != "" {
				meta["c"] = tc.meta
			}
			f, err := LoadBytes("cases.safetensors", buildValid(meta, tc.ts...))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Case("c")
			if err == nil {
				t.Fatal("Case succeeded, want an error")
			}
			for _, w := range []string{"cases.safetensors", tc.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), `"c`) {
				t.Errorf("error %q does not name the case", err)
			}
		})
	}
}

// FuzzLoad feeds arbitrary bytes to the parser and everything reachable from a file that
// parses; none of it may panic, and errors must name the file.
func FuzzLoad(f *testing.F) {
	f.Add([]byte{})
	f.Add(build(`{}`, nil))
	f.Add(build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32bytes(1, 2)))
	f.Add(buildValid(map[string]string{"c": `{"op":"max","inputs":1,"grads":[0]}`},
		spec{"c.in0", []int{2}, []float32{1, 2}}, spec{"c.out", []int{}, []float32{2}},
		spec{"c.indices", []int{}, []float32{1}}, spec{"c.w", []int{}, []float32{3}},
		spec{"c.grad0", []int{2}, []float32{0, 3}}))
	// Real cases copied out of the committed file, small enough to mutate quickly.
	if real, err := Load(Path("ops.safetensors")); err == nil {
		for _, c := range []string{"max_ties", "where_bcast", "add_bcast_scalar"} {
			var ts []spec
			for _, n := range real.Names() {
				if strings.HasPrefix(n, c+".") {
					shape, data, _ := real.Tensor(n)
					ts = append(ts, spec{n, shape, data})
				}
			}
			f.Add(buildValid(map[string]string{c: real.Metadata()[c], "torch_version": "1.13"}, ts...))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := LoadBytes("fuzz.safetensors", b)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.safetensors") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, n := range file.Names() {
			shape, data, err := file.Tensor(n)
			if err != nil {
				t.Fatal(err)
			}
			if prod(shape) != len(data) {
				t.Fatalf("%s: shape %v with %d values", n, shape, len(data))
			}
		}
		for _, c := range file.Cases() {
			file.Meta(c)
			file.Case(c)
		}
		for k := range file.Metadata() {
			file.Meta(k)
			file.Case(k)
		}
	})
}
