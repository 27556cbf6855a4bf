package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
	"github.com/vmdls-go/vmdls/tensor/fakedevice"
)

// deviceNet is a small conv + batch norm + linear net for the device tests.
func deviceNet() Module {
	rng := rand.New(rand.NewPCG(3, 3))
	return NewSequential(NewConv2d(rng, 2, 4, 3, 1, 1, true), NewBatchNorm2d(4, true), NewReLU(), NewFlatten(), NewLinear(rng, 4*5*5, 3, true))
}

// stepNet runs one forward, backward and optimizer step of m on x.
func stepNet(t *testing.T, m Module, opt Optimizer, x *tensor.Tensor) {
	t.Helper()
	opt.ZeroGrad()
	y := m.Forward(autograd.Const(x))
	if err := autograd.Sum(autograd.Square(y), false).Backward(); err != nil {
		t.Fatal(err)
	}
	opt.Step()
}

// TestToDeviceMidTraining moves a net and its optimizer to the fake device
// after one CPU step and takes the second step there: every weight, buffer
// and optimizer state must equal two CPU steps bit for bit, the optimizer
// step itself must make no transfer, and a state restored from the host
// follows its parameter to the device.
func TestToDeviceMidTraining(t *testing.T) {
	x := tensor.Randn(rand.New(rand.NewPCG(4, 4)), 3, 2, 5, 5)
	for _, kind := range []string{"sgd", "adam", "amsgrad"} {
		t.Run(kind, func(t *testing.T) {
			mk := func(m Module) Optimizer {
				var o Optimizer
				var err error
				switch kind {
				case "sgd":
					o, err = NewSGD(Parameters(m), SGDOptions{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4, Nesterov: true})
				default:
					ao := DefaultAdamOptions()
					ao.AMSGrad, ao.WeightDecay = kind == "amsgrad", 1e-3
					o, err = NewAdam(Parameters(m), ao)
				}
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			ref, mov, restored := deviceNet(), deviceNet(), deviceNet()
			ro, mo, so := mk(ref), mk(mov), mk(restored)
			stepNet(t, ref, ro, x)
			stepNet(t, mov, mo, x)
			stepNet(t, restored, so, x)
			ToDevice(mov, fakedevice.Device, mo)
			ToDevice(restored, fakedevice.Device)
			// The third net's optimizer state comes back from the host, as
			// a resumed run's does.
			if err := so.LoadStateDict(ro.StateDict()); err != nil {
				t.Fatal(err)
			}
			stepNet(t, ref, ro, x)
			xd := x.To(fakedevice.Device)
			stepNet(t, mov, mo, xd)
			// The optimizer step alone: no transfer at all.
			fakedevice.Reset()
			mo.Step()
			if s := fakedevice.Counters(); s != (fakedevice.Stats{}) {
				t.Fatalf("an optimizer step on the device transferred %+v", s)
			}
			ro.Step()
			stepNet(t, restored, so, xd)
			so.Step()
			for _, m := range []Module{mov, restored} {
				want, got := StateDict(ref), StateDict(m)
				for i := range want {
					if got[i].Value.Device() != fakedevice.Device || !fakedevice.SameBits(got[i].Value, want[i].Value) {
						t.Fatalf("%s differs from the CPU's (on %v)", want[i].Name, got[i].Value.Device())
					}
				}
				st := map[Module]Optimizer{mov: mo, restored: so}[m].StateDict().State
				for i, e := range ro.StateDict().State {
					if !fakedevice.SameBits(st[i].Value, e.Value) {
						t.Fatalf("optimizer state %s differs from the CPU's", e.Name)
					}
				}
			}
		})
	}
}
