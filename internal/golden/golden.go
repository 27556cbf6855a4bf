package golden

import (
	"encoding/json"
	"fmt"
	"github.com/vmdls-go/vmdls/safetensors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// File is a parsed, validated golden file held in memory. Its methods do not modify it,
// so one File may be shared by parallel tests.
type File struct {
	name string
	st   *safetensors.File
	meta map[string]string
}

// Path returns the path of internal/golden/testdata/<file>, found from this source file's
// location so that tests in any package of the module can open the committed files
// regardless of their working directory. (Under -trimpath the result is not absolute.)
func Path(file string) string {
	_, src, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("internal", "golden", "testdata", file)
	}
	return filepath.Join(filepath.Dir(src), "testdata", file)
}

// Load reads and validates the golden file at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	return LoadBytes(path, b)
}

// LoadBytes parses and validates a golden file already in memory; name is used in error
// messages in place of a path. b is retained (not copied) by the returned File. The
// container is checked by package safetensors; golden files hold F32 tensors only.
func LoadBytes(name string, b []byte) (*File, error) {
	st, err := safetensors.Parse(name, b)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	for _, t := range st.Tensors {
		if t.DType != safetensors.F32 {
			return nil, fmt.Errorf("golden: %s: tensor %q: dtype %s is not supported (only F32)", name, t.Name, t.DType)
		}
	}
	return &File{name: name, st: st, meta: st.Metadata}, nil
}

// Name returns the path (or the name given to LoadBytes) that errors mention.
func (f *File) Name() string { return f.name }

// Has reports whether the file holds a tensor with this name.
func (f *File) Has(name string) bool {
	_, ok := f.st.Get(name)
	return ok
}

// Names returns the names of all tensors in sorted order.
func (f *File) Names() []string {
	out := make([]string, 0, len(f.st.Tensors))
	for _, t := range f.st.Tensors {
		out = append(out, t.Name)
	}
	sort.Strings(out)
	return out
}

// Tensor returns a copy of the named tensor's shape (empty for a scalar) and values.
func (f *File) Tensor(name string) (shape []int, data []float32, err error) {
	t, ok := f.st.Get(name)
	if !ok {
		return nil, nil, fmt.Errorf("golden: %s: no tensor %q", f.name, name)
	}
	if data, err = t.Float32s(); err != nil {
		return nil, nil, fmt.Errorf("golden: %s: tensor %q: %w", f.name, name, err)
	}
	return append([]int{}, t.Shape...), data, nil
}

// Metadata returns a copy of the file's raw __metadata__: one JSON string per case, plus
// file-level keys such as "torch_version" and "generator".
func (f *File) Metadata() map[string]string {
	out := make(map[string]string, len(f.meta))
	for k, v := range f.meta {
		out[k] = v
	}
	return out
}

// Meta returns the parameters of a case, decoded from its JSON object in __metadata__
// (numbers as float64, lists as []any). Every case has "op", "family", "inputs", "grads"
// and "ref"; the rest depends on the op (see README.md).
func (f *File) Meta(caseName string) (map[string]any, error) {
	s, ok := f.meta[caseName]
	if !ok {
		return nil, fmt.Errorf("golden: %s: case %q: no metadata", f.name, caseName)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("golden: %s: case %q: metadata is not a JSON object: %v", f.name, caseName, err)
	}
	if m == nil {
		return nil, fmt.Errorf("golden: %s: case %q: metadata is null", f.name, caseName)
	}
	return m, nil
}

// Cases returns the names of the file's cases (every c with a tensor "c.out"), sorted.
func (f *File) Cases() []string {
	var out []string
	for _, t := range f.st.Tensors {
		if c, ok := strings.CutSuffix(t.Name, ".out"); ok {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// Array is one tensor of a case: a row-major shape and its values.
type Array struct {
	Shape []int
	Data  []float32
}

// Case is one golden case with its tensors gathered and cross-checked, the form a
// table-driven test wants: look up Op, feed Inputs, compare with Out, and for
// differentiable cases backpropagate W and compare with Grads.
type Case struct {
	Name   string
	Op     string         // e.g. "add", "sum", "matmul_t"
	Family string         // elementwise, compare, reduce, softmax, shape, gemm
	Params map[string]any // the whole metadata object, for the op's parameters
	Inputs []Array        // in0, in1, ...
	Out    Array
	// Indices holds the max/min indices along the axis in output order; nil otherwise.
	Indices []int
	// W is the upstream weight of loss = (Out*W).sum(); nil for forward-only cases.
	W *Array
	// Grads[i] is d loss / d Inputs[i]; nil where input i is not differentiable.
	Grads []*Array
}

// Case loads case name and checks that its tensors agree with its metadata: the inputs
// it declares exist, W has Out's shape, each listed gradient has its input's shape, and
// indices (when present) are integers within the reduced axis.
func (f *File) Case(name string) (*Case, error) {
	fail := func(format string, args ...any) (*Case, error) {
		return nil, fmt.Errorf("golden: %s: case %q: "+format, append([]any{f.name, name}, args...)...)
	}
	m, err := f.Meta(name)
	if err != nil {
		return nil, err
	}
	c := &Case{Name: name, Params: m}
	if c.Op, _ = m["op"].(string); c.Op == "" {
		return fail(`metadata has no "op"`)
	}
	c.Family, _ = m["family"].(string)
	nin, ok := c.Int("inputs")
	if !ok || nin < 0 || nin > len(f.st.Tensors) {
		return fail(`metadata has no valid "inputs" count`)
	}
	grads, ok := c.Ints("grads")
	if !ok {
		return fail(`metadata has no valid "grads" list`)
	}
	get := func(t string) (Array, error) {
		s, d, err := f.Tensor(name + "." + t)
		return Array{Shape: s, Data: d}, err
	}
	for i := 0; i < nin; i++ {
		a, err := get("in" + strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		c.Inputs = append(c.Inputs, a)
	}
	if f.Has(name + ".in" + strconv.Itoa(nin)) {
		return fail("has more inputs than the %d its metadata declares", nin)
	}
	if c.Out, err = get("out"); err != nil {
		return nil, err
	}
	if f.Has(name + ".indices") {
		idx, err := get("indices")
		if err != nil {
			return nil, err
		}
		if !slices.Equal(idx.Shape, c.Out.Shape) {
			return fail("indices shape %v differs from out shape %v", idx.Shape, c.Out.Shape)
		}
		c.Indices = make([]int, len(idx.Data))
		for i, v := range idx.Data {
			if v < 0 || v != float32(math.Trunc(float64(v))) || v > 1<<24 {
				return fail("indices[%d] = %v is not a non-negative integer", i, v)
			}
			c.Indices[i] = int(v)
		}
	}
	c.Grads = make([]*Array, nin)
	for _, i := range grads {
		if i < 0 || i >= nin {
			return fail("gradient of input %d listed, but it has %d inputs", i, nin)
		}
		g, err := get("grad" + strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		if !slices.Equal(g.Shape, c.Inputs[i].Shape) {
			return fail("grad%d shape %v differs from in%d shape %v", i, g.Shape, i, c.Inputs[i].Shape)
		}
		c.Grads[i] = &g
	}
	for i := 0; i < nin; i++ {
		if c.Grads[i] == nil && f.Has(name+".grad"+strconv.Itoa(i)) {
			return fail("has grad%d, which its metadata does not list", i)
		}
	}
	switch {
	case f.Has(name + ".w"):
		w, err := get("w")
		if err != nil {
			return nil, err
		}
		if !slices.Equal(w.Shape, c.Out.Shape) {
			return fail("w shape %v differs from out shape %v", w.Shape, c.Out.Shape)
		}
		c.W = &w
	case len(grads) > 0:
		return fail("lists gradients but has no upstream weight w")
	}
	return c, nil
}

// Float returns the numeric parameter key; ok is false when it is absent or not a number.
func (c *Case) Float(key string) (v float64, ok bool) {
	v, ok = c.Params[key].(float64)
	return v, ok
}

// Int returns the integer parameter key; ok is false when it is absent or not an integer.
func (c *Case) Int(key string) (v int, ok bool) {
	f, ok := c.Params[key].(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

// Ints returns the integer-list parameter key (axes, perm, shape, index, grads); ok is
// false when it is absent or holds anything but integers. An empty list gives a non-nil
// empty slice.
func (c *Case) Ints(key string) (v []int, ok bool) {
	l, ok := c.Params[key].([]any)
	if !ok {
		return nil, false
	}
	v = make([]int, len(l))
	for i, x := range l {
		f, ok := x.(float64)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, false
		}
		v[i] = int(f)
	}
	return v, true
}

// Bool returns the boolean parameter key (keepdim, transA, transB, bias, ties); ok is
// false when it is absent or not a boolean.
func (c *Case) Bool(key string) (v bool, ok bool) {
	v, ok = c.Params[key].(bool)
	return v, ok
}
