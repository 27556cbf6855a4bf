package autograd

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/internal/golden"
	"github.com/vmdls-go/vmdls/tensor"
)

// Tolerances against PyTorch's float64 results (internal/golden). Every golden
// value is the float32 rounding of a (nearly) exact result, so what we
// measure is our own float32 error.
const (
	// Forward values of elementwise, reduction, softmax and shape ops, per
	// element, relative: one or two float32 roundings (6e-8 each) plus the
	// 3e-7 bound of the vectorized exp/log.
	forwardRTol = 1e-6
	// Forward values of GEMM-based ops, normwise: max|got-want| / max|want|.
	// A float32 dot product of length K summed in another order differs by
	// up to ~K*eps*sum|a*b| in the worst case; in practice (random signs)
	// it is far smaller, and 1e-5 holds with a wide margin at K <= 900.
	gemmRTol = 1e-5
	// Gradients, normwise. They are chains of float32 ops (y*(1-y) for
	// sigmoid, 1-y^2 for tanh, exp(x-lse) for logsumexp) whose cancellation
	// costs a few ulps of the largest gradient; PyTorch's own float32
	// gradients differ from these float64 references by up to 8e-6.
	gradRTol = 1e-5
)

// goldenErr measures the error of got against want: the largest
// per-element relative error and the normwise one (max abs error over max
// |want|).
func goldenErr(got *tensor.Tensor, want golden.Array) (elem, norm float64, err error) {
	if !slices.Equal(got.Shape(), want.Shape) {
		return 0, 0, fmt.Errorf("shape %v, want %v", got.Shape(), want.Shape)
	}
	var maxAbs, maxWant float64
	for i, g := range got.Data() {
		w := float64(want.Data[i])
		d := math.Abs(float64(g) - w)
		if math.IsNaN(float64(g)) != math.IsNaN(w) {
			return 0, 0, fmt.Errorf("element %d = %v, want %v", i, g, w)
		}
		if math.IsNaN(w) || (math.IsInf(w, 0) && float64(g) == w) {
			continue
		}
		maxAbs = math.Max(maxAbs, d)
		maxWant = math.Max(maxWant, math.Abs(w))
		if d > 0 {
			elem = math.Max(elem, d/math.Abs(w))
		}
	}
	if maxWant > 0 {
		norm = maxAbs / maxWant
	} else if maxAbs > 0 {
		norm = math.Inf(1)
	}
	return elem, norm, nil
}

// goldenOp maps a golden case to our op: it returns the output Var and, for
// max/min, the indices.
func goldenOp(c *golden.Case, in []*Var) (*Var, []int, error) {
	f := func(key string) float32 { v, _ := c.Float(key); return float32(v) }
	i := func(key string) int { v, _ := c.Int(key); return v }
	ints := func(key string) []int { v, _ := c.Ints(key); return v }
	b := func(key string) bool { v, _ := c.Bool(key); return v }
	binary := map[string]func(a, b *Var) *Var{
		"add": Add, "sub": Sub, "mul": Mul, "div": Div, "pow": Pow, "maximum": Maximum, "minimum": Minimum,
	}
	unary := map[string]func(a *Var) *Var{
		"neg": Neg, "exp": Exp, "log": Log, "sqrt": Sqrt, "abs": Abs, "relu": Relu,
		"sigmoid": Sigmoid, "tanh": Tanh, "square": Square,
	}
	compare := map[string]func(a, b *tensor.Tensor) *tensor.Tensor{
		"gt": tensor.Gt, "ge": tensor.Ge, "lt": tensor.Lt, "le": tensor.Le, "eq": tensor.Eq, "ne": tensor.Ne,
	}
	compareScalar := map[string]func(a *tensor.Tensor, s float32) *tensor.Tensor{
		"gt_scalar": tensor.GtScalar, "ge_scalar": tensor.GeScalar, "lt_scalar": tensor.LtScalar,
		"le_scalar": tensor.LeScalar, "eq_scalar": tensor.EqScalar,
	}
	if op, ok := binary[c.Op]; ok {
		return op(in[0], in[1]), nil, nil
	}
	if op, ok := unary[c.Op]; ok {
		return op(in[0]), nil, nil
	}
	if op, ok := compare[c.Op]; ok {
		return Const(op(in[0].Value(), in[1].Value())), nil, nil
	}
	if op, ok := compareScalar[c.Op]; ok {
		return Const(op(in[0].Value(), f("scalar"))), nil, nil
	}
	switch c.Op {
	case "add_scalar":
		return AddScalar(in[0], f("scalar")), nil, nil
	case "mul_scalar":
		return MulScalar(in[0], f("scalar")), nil, nil
	case "pow_scalar":
		return PowScalar(in[0], f("exponent")), nil, nil
	case "clamp":
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		if v, ok := c.Float("lo"); ok {
			lo = float32(v)
		}
		if v, ok := c.Float("hi"); ok {
			hi = float32(v)
		}
		return Clamp(in[0], lo, hi), nil, nil
	case "where":
		return Where(in[0].Value(), in[1], in[2]), nil, nil
	case "sum":
		return Sum(in[0], b("keepdim"), ints("axes")...), nil, nil
	case "mean":
		return Mean(in[0], b("keepdim"), ints("axes")...), nil, nil
	case "max":
		v, idx := Max(in[0], i("axis"), b("keepdim"))
		return v, idx, nil
	case "min":
		v, idx := Min(in[0], i("axis"), b("keepdim"))
		return v, idx, nil
	case "logsumexp":
		return LogSumExp(in[0], i("axis"), b("keepdim")), nil, nil
	case "softmax":
		return Softmax(in[0], i("axis")), nil, nil
	case "log_softmax":
		return LogSoftmax(in[0], i("axis")), nil, nil
	case "reshape":
		return Reshape(in[0], ints("shape")...), nil, nil
	case "permute":
		return Permute(in[0], ints("perm")...), nil, nil
	case "transpose":
		return Transpose(in[0], i("dim0"), i("dim1")), nil, nil
	case "narrow":
		return Narrow(in[0], i("axis"), i("start"), i("length")), nil, nil
	case "index_select":
		return IndexSelect(in[0], i("axis"), ints("index")), nil, nil
	case "cat":
		return Concat(i("axis"), in...), nil, nil
	case "stack":
		return Stack(i("axis"), in...), nil, nil
	case "expand":
		return Expand(in[0], ints("shape")...), nil, nil
	case "matmul":
		return MatMul(in[0], in[1]), nil, nil
	case "matmul_t":
		return MatMulT(in[0], in[1], b("transA"), b("transB")), nil, nil
	case "linear":
		if b("bias") {
			return Linear(in[0], in[1], in[2]), nil, nil
		}
		return Linear(in[0], in[1], nil), nil, nil
	}
	return nil, nil, fmt.Errorf("no op for golden op %q", c.Op)
}

// TestGoldenPyTorch runs every case of the golden files through our ops and
// autograd and compares outputs, max/min indices and gradients with
// PyTorch's.
func TestGoldenPyTorch(t *testing.T) {
	for _, file := range []string{"ops.safetensors", "gemm.safetensors"} {
		gf, err := golden.Load(golden.Path(file))
		if err != nil {
			t.Fatal(err)
		}
		worst := map[string]float64{}
		for _, name := range gf.Cases() {
			c, err := gf.Case(name)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(name, func(t *testing.T) {
				in := make([]*Var, len(c.Inputs))
				for k, a := range c.Inputs {
					in[k] = NewVar(tensor.FromSlice(a.Data, a.Shape...), c.Grads[k] != nil)
				}
				out, idx, err := goldenOp(c, in)
				if err != nil {
					t.Fatal(err)
				}
				elem, norm, err := goldenErr(out.Value(), c.Out)
				if err != nil {
					t.Fatalf("forward: %v", err)
				}
				if c.Family == "gemm" {
					worst["gemm forward (normwise)"] = math.Max(worst["gemm forward (normwise)"], norm)
					if norm > gemmRTol {
						t.Errorf("forward: normwise relative error %.3g > %g", norm, gemmRTol)
					}
				} else {
					worst["forward (per element)"] = math.Max(worst["forward (per element)"], elem)
					if elem > forwardRTol {
						t.Errorf("forward: relative error %.3g > %g", elem, forwardRTol)
					}
				}
				if c.Indices != nil {
					if len(idx) != len(c.Indices) {
						t.Fatalf("%d indices, want %d", len(idx), len(c.Indices))
					}
					for k := range idx {
						if idx[k] != c.Indices[k] {
							t.Fatalf("indices %v, want %v", idx, c.Indices)
						}
					}
				}
				if c.W == nil {
					return
				}
				if err := out.BackwardWith(tensor.FromSlice(c.W.Data, c.W.Shape...)); err != nil {
					t.Fatal(err)
				}
				for k, want := range c.Grads {
					if want == nil {
						continue
					}
					if in[k].Grad() == nil {
						t.Fatalf("input %d received no gradient", k)
					}
					_, norm, err := goldenErr(in[k].Grad(), *want)
					if err != nil {
						t.Fatalf("grad %d: %v", k, err)
					}
					worst["gradient (normwise)"] = math.Max(worst["gradient (normwise)"], norm)
					if norm > gradRTol {
						t.Errorf("grad %d: normwise relative error %.3g > %g", k, norm, gradRTol)
					}
				}
			})
		}
		for k, v := range worst {
			t.Logf("%s: worst %s error %.3g", file, k, v)
		}
	}
}
