package nn

import (
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// toy mirrors a PyTorch module with a parameter, a buffer and a child, to
// pin the state_dict order: own parameters, own buffers, then children.
type toy struct {
	Base
	w *autograd.Var
}

func (t *toy) Forward(x *autograd.Var) *autograd.Var { return autograd.Mul(x, t.w) }

func newToy(child Module) *toy {
	t := &toy{}
	t.w = t.RegisterParam("weight", autograd.Param(tensor.Ones(2)))
	t.RegisterBuffer("running_mean", tensor.Zeros(2))
	if child != nil {
		t.RegisterModule("inner", child)
	}
	return t
}

func TestStateDictOrderAndNames(t *testing.T) {
	m := newToy(newToy(nil))
	var keys []string
	for _, kv := range StateDict(m) {
		keys = append(keys, kv.Name)
	}
	want := "weight running_mean inner.weight inner.running_mean"
	if got := strings.Join(keys, " "); got != want {
		t.Fatalf("state_dict keys %q, want %q", got, want)
	}
	if n := len(NamedParameters(m)); n != 2 {
		t.Fatalf("%d parameters, want 2", n)
	}
	if n := len(NamedBuffers(m)); n != 2 {
		t.Fatalf("%d buffers, want 2", n)
	}
	if StateDict(m)[0].Value != m.w.Value() {
		t.Fatal("StateDict copied a parameter; it must share it")
	}
}

func TestModesFreezingAndCounts(t *testing.T) {
	inner := newToy(nil)
	m := newToy(inner)
	if !m.Training() || !inner.Training() {
		t.Fatal("a new module is not in training mode")
	}
	SetTraining(m, false)
	if m.Training() || inner.Training() {
		t.Fatal("SetTraining(false) did not reach every module")
	}
	if total, trainable := NumParams(m); total != 4 || trainable != 4 {
		t.Fatalf("NumParams = %d, %d; want 4, 4", total, trainable)
	}
	SetRequiresGrad(inner, false)
	if total, trainable := NumParams(m); total != 4 || trainable != 2 {
		t.Fatalf("after freezing the child NumParams = %d, %d; want 4, 2", total, trainable)
	}
	x := autograd.Const(tensor.Ones(2))
	if err := autograd.Sum(inner.Forward(m.Forward(x)), false).Backward(); err != nil {
		t.Fatal(err)
	}
	if m.w.Grad() == nil || inner.w.Grad() != nil {
		t.Fatal("gradients reached the wrong parameters after freezing")
	}
	ZeroGrad(m)
	if m.w.Grad() != nil {
		t.Fatal("ZeroGrad left a gradient")
	}
}

func TestDuplicateNamePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `"weight"`) {
			t.Fatalf("registering a name twice: recover() = %v, want a panic naming it", r)
		}
	}()
	m := newToy(nil)
	m.RegisterBuffer("weight", tensor.Zeros(1))
}
