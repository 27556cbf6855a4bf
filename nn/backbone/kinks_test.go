package backbone

import (
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/internal/golden"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// kinkReplay replays a golden case's ReLU kink log (KinkLog in
// testdata/gen_ae_resnet.py): for the i-th ReLU call of the case, the
// elements whose float64 pre-activation lay within kink_rel·max|x| of zero,
// each with the side float64 put it on. Every other element is decided by
// the Go value itself. Why: float32 rounding (Go's or PyTorch's own) can move
// such an element across zero, and in train mode one flip spreads through
// batch norm into 1e-2 normwise gradient errors while the forward agrees to
// 1e-6; with the decisions shared, the gradient is a smooth function at the
// compared point and the tolerance of the issue applies.
type kinkReplay struct {
	calls [][]float32 // signed index+1: positive where float64 had x > 0
	next  int
	flips int // logged elements on which Go's own sign disagreed with float64's
}

// loadKinks reads <name>.kinks and <name>.kink_counts.
func loadKinks(t *testing.T, f *golden.File, name string) *kinkReplay {
	t.Helper()
	vals := goldenTensor(t, f, name+".kinks").Data()
	k := &kinkReplay{}
	off := 0
	for _, c := range goldenTensor(t, f, name+".kink_counts").Data() {
		n := int(c)
		if off+n > len(vals) {
			t.Fatalf("%s: kink counts exceed the %d logged values", name, len(vals))
		}
		k.calls = append(k.calls, vals[off:off+n])
		off += n
	}
	if off != len(vals) {
		t.Fatalf("%s: %d kink values, counts sum to %d", name, len(vals), off)
	}
	return k
}

// relu is max(x, 0) with the logged decisions of the next call: x·mask, so
// the gradient passes exactly where the mask is one.
func (k *kinkReplay) relu(x *autograd.Var) *autograd.Var {
	if k.next >= len(k.calls) {
		panic("kinkReplay: more ReLU calls than the reference logged")
	}
	forced := k.calls[k.next]
	k.next++
	xv := x.Value().Data()
	mask := make([]float32, len(xv))
	for i, v := range xv {
		if v > 0 {
			mask[i] = 1
		}
	}
	for _, e := range forced {
		i, want := int(e)-1, float32(1)
		if e < 0 {
			i, want = int(-e)-1, 0
		}
		if mask[i] != want {
			k.flips++
		}
		mask[i] = want
	}
	return autograd.Mul(x, autograd.Const(tensor.FromSlice(mask, x.Shape()...)))
}

// withKinks runs fn with the package's relu (and the fused ops that end in
// one) replaced by k's and, when fn
// reports that it ran the whole case (not a -short prefix of it), checks
// that it made exactly as many ReLU calls as the reference.
func withKinks(t *testing.T, k *kinkReplay, fn func() (whole bool)) {
	t.Helper()
	saved, savedBN, savedBNAdd := relu, bnRelu, bnAddRelu
	relu = k.relu
	bnRelu = func(b *nn.BatchNorm2d, x *autograd.Var) *autograd.Var { return k.relu(b.Forward(x)) }
	bnAddRelu = func(b *nn.BatchNorm2d, x, residual *autograd.Var) *autograd.Var {
		return k.relu(autograd.Add(b.Forward(x), residual))
	}
	defer func() { relu, bnRelu, bnAddRelu = saved, savedBN, savedBNAdd }()
	if whole := fn(); whole && k.next != len(k.calls) {
		t.Errorf("%d ReLU calls, the reference logged %d", k.next, len(k.calls))
	}
	n := 0
	for _, c := range k.calls {
		n += len(c)
	}
	t.Logf("ReLU kinks: %d near-zero inputs logged over %d calls; Go's float32 sign differed from float64's on %d", n, len(k.calls), k.flips)
}
