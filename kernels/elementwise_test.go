package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/cpuid/v2"
)

// ewAsmOK reports whether this machine can run the AVX2+FMA kernels. The tests
// compare them with their twins whenever it can, whatever VMDLS_KERNELS
// says; the exported wrappers are tested on the path the variable selects.
var ewAsmOK = assemblyBuilt && cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)

// ewCase is one kernel in a uniform shape for the table-driven tests: dst is
// the output (read too, by Axpy, whose y it is), in the inputs, s the scalar.
type ewCase struct {
	name   string
	inputs int
	asm    func(dst []float32, in [][]float32, s float32)
	gen    func(dst []float32, in [][]float32, s float32)
	pub    func(dst []float32, in [][]float32, s float32)
	// gen draws one input value; nil means ewValue.
	gen1 func(r *rand.Rand) float32
	// tol is the allowed relative difference between the paths; 0 means
	// bit for bit (NaN matching NaN).
	tol float64
}

var ewCases = []ewCase{
	{name: "Add", inputs: 2,
		asm: func(d []float32, in [][]float32, _ float32) { addAVX2(d, in[0], in[1]) },
		gen: func(d []float32, in [][]float32, _ float32) { addGeneric(d, in[0], in[1]) },
		pub: func(d []float32, in [][]float32, _ float32) { Add(d, in[0], in[1]) }},
	{name: "Sub", inputs: 2,
		asm: func(d []float32, in [][]float32, _ float32) { subAVX2(d, in[0], in[1]) },
		gen: func(d []float32, in [][]float32, _ float32) { subGeneric(d, in[0], in[1]) },
		pub: func(d []float32, in [][]float32, _ float32) { Sub(d, in[0], in[1]) }},
	{name: "Mul", inputs: 2,
		asm: func(d []float32, in [][]float32, _ float32) { mulAVX2(d, in[0], in[1]) },
		gen: func(d []float32, in [][]float32, _ float32) { mulGeneric(d, in[0], in[1]) },
		pub: func(d []float32, in [][]float32, _ float32) { Mul(d, in[0], in[1]) }},
	{name: "Div", inputs: 2,
		asm: func(d []float32, in [][]float32, _ float32) { divAVX2(d, in[0], in[1]) },
		gen: func(d []float32, in [][]float32, _ float32) { divGeneric(d, in[0], in[1]) },
		pub: func(d []float32, in [][]float32, _ float32) { Div(d, in[0], in[1]) }},
	{name: "Axpy", inputs: 1,
		asm: func(d []float32, in [][]float32, s float32) { axpyAVX2(s, in[0], d) },
		gen: func(d []float32, in [][]float32, s float32) { axpyGeneric(s, in[0], d) },
		pub: func(d []float32, in [][]float32, s float32) { Axpy(s, in[0], d) }},
	{name: "Scale", inputs: 1,
		asm: func(d []float32, in [][]float32, s float32) { scaleAVX2(d, s, in[0]) },
		gen: func(d []float32, in [][]float32, s float32) { scaleGeneric(d, s, in[0]) },
		pub: func(d []float32, in [][]float32, s float32) { Scale(d, s, in[0]) }},
	{name: "AddScalar", inputs: 1,
		asm: func(d []float32, in [][]float32, s float32) { addScalarAVX2(d, s, in[0]) },
		gen: func(d []float32, in [][]float32, s float32) { addScalarGeneric(d, s, in[0]) },
		pub: func(d []float32, in [][]float32, s float32) { AddScalar(d, s, in[0]) }},
	{name: "Relu", inputs: 1,
		asm: func(d []float32, in [][]float32, _ float32) { reluAVX2(d, in[0]) },
		gen: func(d []float32, in [][]float32, _ float32) { reluGeneric(d, in[0]) },
		pub: func(d []float32, in [][]float32, _ float32) { Relu(d, in[0]) }},
	{name: "ReluBackward", inputs: 2,
		asm: func(d []float32, in [][]float32, _ float32) { reluBackwardAVX2(d, in[0], in[1]) },
		gen: func(d []float32, in [][]float32, _ float32) { reluBackwardGeneric(d, in[0], in[1]) },
		pub: func(d []float32, in [][]float32, _ float32) { ReluBackward(d, in[0], in[1]) }},
	{name: "Exp", inputs: 1, tol: 6e-7, gen1: ewExpValue,
		asm: func(d []float32, in [][]float32, _ float32) { expAVX2(d, in[0]) },
		gen: func(d []float32, in [][]float32, _ float32) { expGeneric(d, in[0]) },
		pub: func(d []float32, in [][]float32, _ float32) { Exp(d, in[0]) }},
	{name: "Log", inputs: 1, tol: 6e-7, gen1: ewLogValue,
		asm: func(d []float32, in [][]float32, _ float32) { logAVX2(d, in[0]) },
		gen: func(d []float32, in [][]float32, _ float32) { logGeneric(d, in[0]) },
		pub: func(d []float32, in [][]float32, _ float32) { Log(d, in[0]) }},
	// The reductions write their result to dst[0] (dst has length 1).
	{name: "Sum", inputs: 1,
		asm: func(d []float32, in [][]float32, _ float32) { d[0] = sumAVX2(in[0]) },
		gen: func(d []float32, in [][]float32, _ float32) { d[0] = sumGeneric(in[0]) },
		pub: func(d []float32, in [][]float32, _ float32) { d[0] = Sum(in[0]) }},
	{name: "Max", inputs: 1,
		asm: func(d []float32, in [][]float32, _ float32) { d[0] = maxAVX2(in[0]) },
		gen: func(d []float32, in [][]float32, _ float32) { d[0] = maxGeneric(in[0]) },
		pub: func(d []float32, in [][]float32, _ float32) { d[0] = Max(in[0]) }},
}

func (c *ewCase) reduction() bool { return c.name == "Sum" || c.name == "Max" }

// ewCanary is a NaN with a payload no kernel produces, written around every
// buffer so that out-of-bounds writes (and reads, which turn results NaN)
// show.
var ewCanary = math.Float32frombits(0x7fc0dead)

const ewPad = 16

// ewPadded returns a slice of n elements that starts off floats past a
// 32-byte-aligned-or-not backing array's ewCanary zone, and the backing array.
func ewPadded(n, off int) (s, buf []float32) {
	buf = make([]float32, ewPad+off+n+ewPad)
	for i := range buf {
		buf[i] = ewCanary
	}
	return buf[ewPad+off : ewPad+off+n], buf
}

func ewCheckCanaries(t testing.TB, what string, s, buf []float32, off int) {
	t.Helper()
	for i := range buf {
		if i >= ewPad+off && i < ewPad+off+len(s) {
			continue
		}
		if math.Float32bits(buf[i]) != 0x7fc0dead {
			t.Fatalf("%s: ewCanary at %d (slice is [%d,%d)) overwritten with %v", what, i, ewPad+off, ewPad+off+len(s), buf[i])
		}
	}
}

// ewValue draws an ordinary value most of the time and a special one
// (NaN, ±Inf, ±0, subnormal, huge, tiny) sometimes.
func ewValue(r *rand.Rand) float32 {
	if r.IntN(16) == 0 {
		sp := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0,
			float32(math.Copysign(0, -1)), 1e-40, -3e-39, 3e38, -3e38, 1e-30, 1, -1}
		return sp[r.IntN(len(sp))]
	}
	return float32(r.NormFloat64() * math.Exp2(float64(r.IntN(20)-10)))
}

// ewExpValue covers the whole domain of exp, beyond both ends, and specials.
func ewExpValue(r *rand.Rand) float32 {
	if r.IntN(16) == 0 {
		return ewValue(r)
	}
	return float32(r.Float64()*210 - 110)
}

// ewLogValue covers positive floats of every exponent, subnormals included,
// values near 1, negatives and specials.
func ewLogValue(r *rand.Rand) float32 {
	switch r.IntN(8) {
	case 0:
		return ewValue(r)
	case 1:
		return 1 + float32(r.NormFloat64()*1e-4)
	}
	return math.Float32frombits(uint32(r.IntN(0x7f800000)))
}

// ewSame reports whether got matches want for case c.
func ewSame(c *ewCase, got, want float32) bool {
	if got != got || want != want {
		return got != got && want != want
	}
	if c.tol == 0 {
		return math.Float32bits(got) == math.Float32bits(want)
	}
	if got == want {
		return true
	}
	if math.IsInf(float64(got), 0) || math.IsInf(float64(want), 0) {
		return false
	}
	d := math.Abs(float64(got) - float64(want))
	// Subnormal results: exp rounds them once from a 3e-7-accurate value,
	// so each path is within 1.2 subnormal ulps of the truth.
	return d <= c.tol*math.Abs(float64(want)) || d <= 2.4*0x1p-149
}

// ewRunCase runs c on both paths over fresh random inputs of length n at the
// given offsets and reports the first mismatch.
func ewRunCase(t testing.TB, c *ewCase, r *rand.Rand, n int, offs []int, a, b func(dst []float32, in [][]float32, s float32), aName, bName string) {
	t.Helper()
	gen1 := c.gen1
	if gen1 == nil {
		gen1 = ewValue
	}
	in := make([][]float32, c.inputs)
	for k := range in {
		in[k] = make([]float32, n)
		for i := range in[k] {
			in[k][i] = gen1(r)
		}
	}
	y := make([]float32, n)
	for i := range y {
		y[i] = ewValue(r) // Axpy reads dst as y
	}
	ewCompare(t, c, in, y, ewValue(r), offs, a, b, aName, bName)
}

// ewCompare runs a and b on copies of the inputs (and of y, the initial
// dst) placed at offsets offs (dst first) in NaN-canaried buffers, and
// reports the first element where they differ or any canary overwritten.
func ewCompare(t testing.TB, c *ewCase, inputs [][]float32, y []float32, s float32, offs []int, a, b func(dst []float32, in [][]float32, s float32), aName, bName string) {
	t.Helper()
	n := len(y)
	dn := n
	if c.reduction() {
		if c.name == "Max" && n == 0 {
			return
		}
		dn = 1
	}
	in := make([][]float32, c.inputs)
	inBuf := make([][]float32, c.inputs)
	for k := range in {
		in[k], inBuf[k] = ewPadded(n, offs[1+k])
		copy(in[k], inputs[k])
	}
	d1, b1 := ewPadded(dn, offs[0])
	d2, b2 := ewPadded(dn, offs[0])
	copy(d1, y)
	copy(d2, y)
	a(d1, in, s)
	b(d2, in, s)
	what := fmt.Sprintf("%s n=%d offs=%v", c.name, n, offs)
	ewCheckCanaries(t, what+" "+aName, d1, b1, offs[0])
	ewCheckCanaries(t, what+" "+bName, d2, b2, offs[0])
	for k := range in {
		ewCheckCanaries(t, what+" input", in[k], inBuf[k], offs[1+k])
	}
	for i := range d1 {
		if !ewSame(c, d1[i], d2[i]) {
			x := make([]float32, len(in))
			for k := range in {
				if i < len(in[k]) {
					x[k] = in[k][i]
				}
			}
			t.Fatalf("%s s=%v: element %d (inputs %v): %s %v (%#x), %s %v (%#x)", what, s, i, x,
				aName, d1[i], math.Float32bits(d1[i]), bName, d2[i], math.Float32bits(d2[i]))
		}
	}
}

func ewLengths(r *rand.Rand) []int {
	var ns []int
	for n := 0; n <= 67; n++ {
		ns = append(ns, n)
	}
	for range 12 {
		ns = append(ns, 68+r.IntN(5000))
	}
	return ns
}

// TestElementwiseAsmVsGeneric runs every assembly kernel against its twin on
// every length 0..67 and random longer ones, at unaligned offsets 0..7 of
// dst and each input independently, with NaN canaries around every buffer.
func TestElementwiseAsmVsGeneric(t *testing.T) {
	if !ewAsmOK {
		t.Skip("no AVX2+FMA on this machine")
	}
	for ci := range ewCases {
		c := &ewCases[ci]
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(ci)))
			for _, n := range ewLengths(r) {
				for o := range 8 {
					offs := []int{o, (o + 3) % 8, (o + 5) % 8}
					ewRunCase(t, c, r, n, offs, c.asm, c.gen, "asm", "generic")
				}
			}
		})
	}
}

// TestElementwiseDispatch checks the exported kernels, on whichever path
// VMDLS_KERNELS and the CPU select, against the twins.
func TestElementwiseDispatch(t *testing.T) {
	t.Logf("kernel path: %s", Path())
	for ci := range ewCases {
		c := &ewCases[ci]
		r := rand.New(rand.NewPCG(2, uint64(ci)))
		for _, n := range []int{0, 1, 7, 8, 9, 31, 33, 100, 1000} {
			ewRunCase(t, c, r, n, []int{1, 2, 3}, c.pub, c.gen, Path(), "generic")
		}
	}
}

// TestElementwiseAliasing runs each kernel with dst being each of its inputs
// in turn, against the twin on separate buffers.
func TestElementwiseAliasing(t *testing.T) {
	paths := []struct {
		name string
		pick func(c *ewCase) func([]float32, [][]float32, float32)
	}{
		{"dispatched", func(c *ewCase) func([]float32, [][]float32, float32) { return c.pub }},
		{"asm", func(c *ewCase) func([]float32, [][]float32, float32) { return c.asm }},
	}
	for _, p := range paths {
		if p.name == "asm" && !ewAsmOK {
			continue
		}
		for ci := range ewCases {
			c := &ewCases[ci]
			if c.reduction() || c.name == "Axpy" { // Axpy's y is in place by design
				continue
			}
			r := rand.New(rand.NewPCG(3, uint64(ci)))
			gen1 := c.gen1
			if gen1 == nil {
				gen1 = ewValue
			}
			for _, n := range []int{1, 5, 8, 13, 32, 67, 1001} {
				for k := 0; k < c.inputs; k++ {
					in := make([][]float32, c.inputs)
					for j := range in {
						in[j] = make([]float32, n)
						for i := range in[j] {
							in[j][i] = gen1(r)
						}
					}
					want := make([]float32, n)
					c.gen(want, in, 0.75)
					p.pick(c)(in[k], in, 0.75)
					for i := range want {
						if !ewSame(c, in[k][i], want[i]) {
							t.Fatalf("%s %s n=%d dst=input %d: element %d: %v, want %v", p.name, c.name, n, k, i, in[k][i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestElementwiseLengthPanics checks that a length mismatch panics with a
// message naming the kernel and both lengths.
func TestElementwiseLengthPanics(t *testing.T) {
	a3, a4 := make([]float32, 3), make([]float32, 4)
	cases := []struct {
		name string
		f    func()
		want []string
	}{
		{"Add", func() { Add(a3, a3, a4) }, []string{"kernels.Add", "len(dst)=3", "len(b)=4"}},
		{"Sub", func() { Sub(a3, a4, a3) }, []string{"kernels.Sub", "len(dst)=3", "len(a)=4"}},
		{"Mul", func() { Mul(a4, a3, a3) }, []string{"kernels.Mul", "len(dst)=4", "len(a)=3"}},
		{"Div", func() { Div(a3, a3, a4) }, []string{"kernels.Div", "len(dst)=3", "len(b)=4"}},
		{"Axpy", func() { Axpy(1, a4, a3) }, []string{"kernels.Axpy", "len(y)=3", "len(x)=4"}},
		{"Scale", func() { Scale(a3, 2, a4) }, []string{"kernels.Scale", "len(dst)=3", "len(x)=4"}},
		{"AddScalar", func() { AddScalar(a4, 2, a3) }, []string{"kernels.AddScalar", "len(dst)=4", "len(x)=3"}},
		{"Relu", func() { Relu(a3, a4) }, []string{"kernels.Relu", "len(dst)=3", "len(x)=4"}},
		{"ReluBackward", func() { ReluBackward(a3, a3, a4) }, []string{"kernels.ReluBackward", "len(dst)=3", "len(x)=4"}},
		{"ReluBackward grad", func() { ReluBackward(a3, a4, a3) }, []string{"kernels.ReluBackward", "len(dst)=3", "len(grad)=4"}},
		{"Exp", func() { Exp(a3, a4) }, []string{"kernels.Exp", "len(dst)=3", "len(x)=4"}},
		{"Log", func() { Log(a4, a3) }, []string{"kernels.Log", "len(dst)=4", "len(x)=3"}},
		{"Max", func() { Max(nil) }, []string{"kernels.Max", "empty"}},
	}
	for _, c := range cases {
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			c.f()
			return "<no panic>"
		}()
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: panic %q does not contain %q", c.name, msg, w)
			}
		}
	}
}

// TestElementwiseSpecialValues pins the documented results of the kernels
// on special inputs, on the twins, the assembly and the dispatched path.
func TestElementwiseSpecialValues(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	negz := float32(math.Copysign(0, -1))
	type pair struct{ x, want float32 }
	exps := []pair{{float32(math.Inf(-1)), 0}, {inf, inf}, {nan, nan}, {0, 1}, {negz, 1},
		{89, inf}, {88.8, inf}, {1000, inf}, {-104, 0}, {-1000, 0}, {-3e38, 0}, {3e38, inf},
		{88.72283, e32(88.72283)}, {-103.2789, 0x1p-149}, {-87.33655, e32(-87.33655)},
		{-100, e32(-100)}, {1, float32(math.E)}}
	logs := []pair{{0, float32(math.Inf(-1))}, {negz, float32(math.Inf(-1))}, {-1, nan},
		{float32(math.Inf(-1)), nan}, {inf, inf}, {nan, nan}, {1, 0}, {-1e-40, nan},
		{0x1p-149, -103.27893}, {math.MaxFloat32, 88.72284}}
	relu := []pair{{negz, negz}, {nan, nan}, {-1, 0}, {2, 2}, {float32(math.Inf(-1)), 0}}
	type fn struct {
		name string
		f    func(dst, x []float32)
		ps   []pair
	}
	fns := []fn{{"expGeneric", expGeneric, exps}, {"Exp", Exp, exps},
		{"logGeneric", logGeneric, logs}, {"Log", Log, logs},
		{"reluGeneric", reluGeneric, relu}, {"Relu", Relu, relu}}
	if ewAsmOK {
		fns = append(fns, fn{"expAVX2", expAVX2, exps}, fn{"logAVX2", logAVX2, logs}, fn{"reluAVX2", reluAVX2, relu})
	}
	for _, f := range fns {
		for _, p := range f.ps {
			dst := []float32{0}
			f.f(dst, []float32{p.x})
			got := dst[0]
			ok := got == p.want && math.Signbit(float64(got)) == math.Signbit(float64(p.want))
			if p.want != p.want {
				ok = got != got
			} else if p.want != 0 && !math.IsInf(float64(p.want), 0) {
				// Normal results within 3e-7, subnormal ones within 1.2 ulp.
				d := math.Abs(float64(got) - float64(p.want))
				ok = d <= 3e-7*math.Abs(float64(p.want)) || (p.want < 0x1p-126 && d <= 1.2*0x1p-149)
			}
			if !ok {
				t.Errorf("%s(%v) = %v (%#x), want %v", f.name, p.x, got, math.Float32bits(got), p.want)
			}
		}
	}
	// ReluBackward: NaN x gives 0; NaN grad passes where x > 0.
	for _, f := range []func(d, g, x []float32){reluBackwardGeneric, ReluBackward} {
		d := make([]float32, 4)
		f(d, []float32{1, 2, nan, 4}, []float32{nan, 0, 1, -1})
		if d[0] != 0 || d[1] != 0 || d[2] == d[2] || d[3] != 0 {
			t.Errorf("ReluBackward special values: %v, want [0 0 NaN 0]", d)
		}
	}
	// Max: NaN anywhere wins, even after larger values and at the tail.
	for _, n := range []int{1, 7, 8, 9, 40, 100} {
		for _, at := range []int{0, n / 2, n - 1} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i)
			}
			x[at] = nan
			for _, f := range []func([]float32) float32{maxGeneric, Max} {
				if m := f(x); m == m {
					t.Errorf("Max with NaN at %d of %d = %v, want NaN", at, n, m)
				}
			}
		}
	}
}

// TestSumAccuracy checks Sum against a float64 sum. Each element passes
// through at most ceil(n/32)+1 additions in its partial sum and 5 in the
// reduction tree, so the error is at most about (n/32+7)·u·Σ|x|, u = 2^-24
// (the standard bound for recursive summation, per chain).
func TestSumAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{1, 7, 31, 32, 33, 100, 1000, 4096, 100000} {
		x := make([]float32, n)
		var exact, abs float64
		for i := range x {
			x[i] = float32(r.NormFloat64() + 0.3)
			exact += float64(x[i])
			abs += math.Abs(float64(x[i]))
		}
		bound := (float64(n)/32 + 7) * 0x1p-24 * abs
		for _, p := range []struct {
			name string
			f    func([]float32) float32
		}{{"Sum", Sum}, {"sumGeneric", sumGeneric}} {
			if got := float64(p.f(x)); math.Abs(got-exact) > bound {
				t.Errorf("%s n=%d: %v, exact %v, error %g > bound %g", p.name, n, got, exact, math.Abs(got-exact), bound)
			}
		}
	}
}

// e32 is exp(x) for the float32 x, correctly rounded but for double rounding.
func e32(x float32) float32 { return float32(math.Exp(float64(x))) }

// FuzzElementwise feeds arbitrary float32 bit patterns to one kernel (chosen
// by op) on both paths and requires the same results and intact canaries.
func FuzzElementwise(f *testing.F) {
	if !ewAsmOK {
		f.Skip("no AVX2+FMA on this machine")
	}
	le := func(vs ...float32) []byte {
		b := make([]byte, 0, 4*len(vs))
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for op := range ewCases {
		f.Add(uint8(op), uint8(op), float32(0.5), le(1, -2, 3, nan, inf, -inf, 0, 1e-40, 88.7, -87.4, 1, 2, 3, 4, 5, 6, 7, 8, 9))
		f.Add(uint8(op), uint8(3), float32(-3), le(make([]float32, 70)...))
	}
	f.Fuzz(func(t *testing.T, op, off uint8, s float32, data []byte) {
		c := &ewCases[int(op)%len(ewCases)]
		// Split the floats into y (the initial dst) and the inputs.
		vals := make([]float32, len(data)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		n := len(vals) / (c.inputs + 1)
		in := make([][]float32, c.inputs)
		for k := range in {
			in[k] = vals[(k+1)*n : (k+2)*n]
		}
		offs := []int{int(off % 8), int(off/8) % 8, int(off/64) % 4}
		ewCompare(t, c, in, vals[:n], s, offs, c.asm, c.gen, "asm", "generic")
	})
}
