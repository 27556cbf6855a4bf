package cuda

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/tensor"
)

// Tolerances of the self-test, from the issue: elementwise results within
// 1e-5 relative of the CPU's, element by element; SGEMM (and reductions,
// whose summation order differs) within 1e-4 of the CPU's relative to the
// largest magnitude of the result, because single entries of a product can
// cancel to near zero where no per-element relative bound is meaningful.
const (
	rtolElementwise = 1e-5
	rtolGemm        = 1e-4
)

// stCase is one self-test check: op runs on inputs living on one device and
// returns its result there; the harness runs it on the CPU and on the device
// under test and compares. normwise selects the norm-relative comparison.
type stCase struct {
	name     string
	rtol     float64
	normwise bool
	inputs   func(r *rand.Rand) []*tensor.Tensor
	op       func(in []*tensor.Tensor) *tensor.Tensor
}

// mismatch describes the first element where got and want disagree, or is
// empty when they agree. Equal values (including equal infinities) and NaN
// against NaN agree.
func mismatch(got, want []float32, rtol float64, normwise bool) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d elements, want %d", len(got), len(want))
	}
	scale := 0.0
	if normwise {
		for _, w := range want {
			if a := math.Abs(float64(w)); !math.IsInf(a, 0) && !math.IsNaN(a) {
				scale = max(scale, a)
			}
		}
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if g == w || (math.IsNaN(g) && math.IsNaN(w)) {
			continue
		}
		ref := math.Abs(w)
		if normwise {
			ref = scale
		}
		if !(math.Abs(g-w) <= rtol*ref) {
			return fmt.Sprintf("element %d: got %v, want %v (rtol %g)", i, got[i], want[i], rtol)
		}
	}
	return ""
}

// runSelfTest runs every case on the CPU and on dev and prints one line per
// case, then PASS, or FAIL with the first mismatch. It returns an error
// naming the first failed case. A panic in a case (a CUDA error, say) is a
// failure of that case, not of the harness.
func runSelfTest(dev tensor.Device, cases []stCase, w io.Writer) error {
	var first error
	for i, c := range cases {
		msg := runCase(dev, c, uint64(i))
		if msg == "" {
			fmt.Fprintf(w, "ok    %s\n", c.name)
			continue
		}
		fmt.Fprintf(w, "FAIL  %s: %s\n", c.name, msg)
		if first == nil {
			first = fmt.Errorf("cuda self-test: %s: %s", c.name, msg)
		}
	}
	if first != nil {
		fmt.Fprintf(w, "FAIL (%v)\n", first)
		return first
	}
	fmt.Fprintf(w, "PASS (%d checks)\n", len(cases))
	return nil
}

func runCase(dev tensor.Device, c stCase, seed uint64) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprintf("panic: %v", r)
		}
	}()
	in := c.inputs(rand.New(rand.NewPCG(seed, 0x5e1f7e57)))
	want := c.op(in)
	din := make([]*tensor.Tensor, len(in))
	for i, t := range in {
		din[i] = t.To(dev)
	}
	got := c.op(din)
	if got.Device() != dev {
		return fmt.Sprintf("result on %v, want %v", got.Device(), dev)
	}
	if !tensor.SameShape(got, want) {
		return fmt.Sprintf("shape %v, want %v", got.Shape(), want.Shape())
	}
	return mismatch(got.To(tensor.CPU).Data(), want.Data(), c.rtol, c.normwise)
}

// selfTestCases lists the checks: every GPU kernel (each unary and binary
// op, contiguous and broadcast; copies, fills, axpy, reductions on short and
// long axes; the neural-network primitives of nnCases) and cuBLAS SGEMM in
// the four transpose combinations at n=gemmN and batched, so that the whole
// Backend is exercised.
// The inputs of a case: uniform floats in [lo, hi), or integers in
// [-span/2, span/2), whose sums are exact and whose maxima tie.
func uniInputs(lo, hi float32, shapes ...[]int) func(r *rand.Rand) []*tensor.Tensor {
	return func(r *rand.Rand) []*tensor.Tensor {
		ts := make([]*tensor.Tensor, len(shapes))
		for i, s := range shapes {
			ts[i] = tensor.Uniform(r, lo, hi, s...)
		}
		return ts
	}
}

func intInputs(span int, shapes ...[]int) func(r *rand.Rand) []*tensor.Tensor {
	return func(r *rand.Rand) []*tensor.Tensor {
		ts := make([]*tensor.Tensor, len(shapes))
		for i, s := range shapes {
			t := tensor.Zeros(s...)
			d := t.Data()
			for j := range d {
				d[j] = float32(r.IntN(span) - span/2)
			}
			ts[i] = t
		}
		return ts
	}
}

// The comparisons of a case: elementwise within rtolElementwise, exact,
// norm-relative within rtolElementwise (reductions, whose order differs),
// or norm-relative within rtolGemm (products).
type caseInputs = func(*rand.Rand) []*tensor.Tensor
type caseOp = func([]*tensor.Tensor) *tensor.Tensor

func elCase(name string, in caseInputs, op caseOp) stCase {
	return stCase{name: name, rtol: rtolElementwise, inputs: in, op: op}
}

func exactCase(name string, in caseInputs, op caseOp) stCase {
	return stCase{name: name, rtol: 0, inputs: in, op: op}
}

func redCase(name string, in caseInputs, op caseOp) stCase {
	return stCase{name: name, rtol: rtolElementwise, normwise: true, inputs: in, op: op}
}

func gemmCase(name string, in caseInputs, op caseOp) stCase {
	return stCase{name: name, rtol: rtolGemm, normwise: true, inputs: in, op: op}
}

func selfTestCases(gemmN int) []stCase {
	uni, ints := uniInputs, func(shapes ...[]int) caseInputs { return intInputs(200, shapes...) }
	el, exact, red, gemm := elCase, exactCase, redCase, gemmCase
	v := []int{1000, 37}
	cs := []stCase{
		exact("upload/download", ints(v), func(t []*tensor.Tensor) *tensor.Tensor { return t[0].Clone() }),
		exact("fill", ints(v), func(t []*tensor.Tensor) *tensor.Tensor { return t[0].Clone().Fill(-2.5) }),
		exact("add (integers, exact)", ints(v, v), func(t []*tensor.Tensor) *tensor.Tensor { return tensor.Add(t[0], t[1]) }),
		exact("permute (strided copy)", ints([]int{7, 9, 11, 3}), func(t []*tensor.Tensor) *tensor.Tensor { return t[0].Permute(2, 0, 3, 1) }),
		exact("narrow+concat", ints([]int{6, 10}, []int{6, 4}), func(t []*tensor.Tensor) *tensor.Tensor {
			return tensor.Concat(1, t[0].Narrow(1, 3, 5), t[1])
		}),
		exact("where", ints(v, v, v), func(t []*tensor.Tensor) *tensor.Tensor {
			return tensor.Where(tensor.GtScalar(t[0], 0), t[1], t[2])
		}),
		exact("axpy", uni(-2, 2, v, v), func(t []*tensor.Tensor) *tensor.Tensor { return t[0].Clone().AxpyInPlace(0.37, t[1]) }),
		el("scale", uni(-2, 2, v), func(t []*tensor.Tensor) *tensor.Tensor { return t[0].Clone().ScaleInPlace(-1.7) }),
	}
	// Every unary op on inputs inside its domain.
	unary := []struct {
		name string
		lo   float32
		f    func(*tensor.Tensor) *tensor.Tensor
	}{
		{"neg", -4, tensor.Neg}, {"exp", -20, tensor.Exp}, {"log", 0, tensor.Log}, {"sqrt", 0, tensor.Sqrt},
		{"abs", -4, tensor.Abs}, {"relu", -4, tensor.Relu}, {"sigmoid", -10, tensor.Sigmoid}, {"tanh", -4, tensor.Tanh},
		{"square", -4, tensor.Square},
		{"add_scalar", -4, func(t *tensor.Tensor) *tensor.Tensor { return tensor.AddScalar(t, 1.25) }},
		{"mul_scalar", -4, func(t *tensor.Tensor) *tensor.Tensor { return tensor.MulScalar(t, -3) }},
		{"div_scalar", -4, func(t *tensor.Tensor) *tensor.Tensor { return tensor.DivScalar(t, 3) }},
		{"pow_scalar", 0, func(t *tensor.Tensor) *tensor.Tensor { return tensor.PowScalar(t, 1.7) }},
		{"pow_scalar 2", -4, func(t *tensor.Tensor) *tensor.Tensor { return tensor.PowScalar(t, 2) }},
		{"clamp", -4, func(t *tensor.Tensor) *tensor.Tensor { return tensor.Clamp(t, -1, 0.5) }},
		{"gt_scalar", -4, func(t *tensor.Tensor) *tensor.Tensor { return tensor.GtScalar(t, 0.1) }},
		{"ge_scalar", -4, func(t *tensor.Tensor) *tensor.Tensor { return tensor.GeScalar(t, 0.1) }},
		{"lt_scalar", -4, func(t *tensor.Tensor) *tensor.Tensor { return tensor.LtScalar(t, 0.1) }},
		{"le_scalar", -4, func(t *tensor.Tensor) *tensor.Tensor { return tensor.LeScalar(t, 0.1) }},
		{"eq_scalar", -4, func(t *tensor.Tensor) *tensor.Tensor { return tensor.EqScalar(t, 0.1) }},
		{"ne_scalar", -4, func(t *tensor.Tensor) *tensor.Tensor { return tensor.NeScalar(t, 0.1) }},
	}
	for _, u := range unary {
		cs = append(cs, el("unary "+u.name, uni(u.lo, 4, []int{4099}), func(t []*tensor.Tensor) *tensor.Tensor { return u.f(t[0]) }))
	}
	binary := []struct {
		name string
		lo   float32
		f    func(a, b *tensor.Tensor) *tensor.Tensor
	}{
		{"add", -4, tensor.Add}, {"sub", -4, tensor.Sub}, {"mul", -4, tensor.Mul}, {"div", 0.5, tensor.Div},
		{"pow", 0.1, tensor.Pow}, {"maximum", -4, tensor.Maximum}, {"minimum", -4, tensor.Minimum},
		{"gt", -4, tensor.Gt}, {"ge", -4, tensor.Ge}, {"lt", -4, tensor.Lt}, {"le", -4, tensor.Le},
		{"eq", -4, tensor.Eq}, {"ne", -4, tensor.Ne}, {"relu_backward", -4, tensor.ReluBackward},
	}
	for _, b := range binary {
		cs = append(cs,
			el("binary "+b.name, uni(b.lo, 4, []int{33, 65}, []int{33, 65}), func(t []*tensor.Tensor) *tensor.Tensor { return b.f(t[0], t[1]) }),
			el("binary "+b.name+" broadcast", uni(b.lo, 4, []int{5, 1, 65}, []int{33, 1}), func(t []*tensor.Tensor) *tensor.Tensor { return b.f(t[0], t[1]) }))
	}
	cs = append(cs,
		red("sum short axis", uni(-1, 1, []int{300, 7, 40}), func(t []*tensor.Tensor) *tensor.Tensor { return tensor.Sum(t[0], false, 1) }),
		red("sum long axis", uni(-1, 1, []int{3, 1 << 18}), func(t []*tensor.Tensor) *tensor.Tensor { return tensor.Sum(t[0], false, 1) }),
		red("sum all", uni(0, 1, []int{1 << 20}), func(t []*tensor.Tensor) *tensor.Tensor { return tensor.Sum(t[0], false) }),
		exact("max all", uni(-1, 1, []int{2, 100000}), func(t []*tensor.Tensor) *tensor.Tensor {
			return tensor.Full(tensor.MaxAll(t[0]), 1).To(t[0].Device())
		}),
		red("logsumexp", uni(-30, 30, []int{64, 1000}), func(t []*tensor.Tensor) *tensor.Tensor { return tensor.LogSumExp(t[0], 1, false) }),
		red("mean", uni(-1, 1, []int{16, 3, 32, 32}), func(t []*tensor.Tensor) *tensor.Tensor { return tensor.Mean(t[0], true, 0, 2, 3) }),
	)
	cs = append(cs, nnCases()...)
	n := gemmN
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		cs = append(cs, gemm(fmt.Sprintf("sgemm n=%d transA=%v transB=%v", n, tr[0], tr[1]), uni(-1, 1, []int{n, n}, []int{n, n}),
			func(t []*tensor.Tensor) *tensor.Tensor { return tensor.MatMulT(t[0], t[1], tr[0], tr[1]) }))
	}
	cs = append(cs,
		gemm("sgemm rectangular 300x70 @ 70x129", uni(-1, 1, []int{300, 70}, []int{70, 129}), func(t []*tensor.Tensor) *tensor.Tensor { return tensor.MatMul(t[0], t[1]) }),
		gemm("sgemm batched broadcast", uni(-1, 1, []int{2, 1, 17, 9}, []int{3, 9, 13}), func(t []*tensor.Tensor) *tensor.Tensor { return tensor.MatMul(t[0], t[1]) }),
		gemm("linear with bias", uni(-1, 1, []int{64, 100}, []int{30, 100}, []int{30}), func(t []*tensor.Tensor) *tensor.Tensor { return tensor.Linear(t[0], t[1], t[2]) }),
	)
	return cs
}
