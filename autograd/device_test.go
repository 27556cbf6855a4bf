package autograd

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/tensor"
	"github.com/vmdls-go/vmdls/tensor/fakedevice"
)

// TestDropoutOnDevice checks that dropout on a device draws the CPU's mask
// from the same generator, gives bit-identical values and gradients (+0
// where dropped, also for negative and infinite inputs) and copies nothing
// between host and device: the counter-based mask is made where the
// tensor is.
func TestDropoutOnDevice(t *testing.T) {
	x := tensor.Randn(rand.New(rand.NewPCG(1, 1)), 4, 50)
	x.Set(float32(math.Inf(-1)), 0, 0)
	for _, p := range []float64{0.3, 1} {
		cx, dx := Param(x.Clone()), Param(x.To(fakedevice.Device))
		cy := Dropout(cx, p, true, rand.New(rand.NewPCG(2, 2)))
		fakedevice.Reset()
		dy := Dropout(dx, p, true, rand.New(rand.NewPCG(2, 2)))
		if err := Sum(Square(dy), false).Backward(); err != nil {
			t.Fatal(err)
		}
		s := fakedevice.Counters()
		if err := Sum(Square(cy), false).Backward(); err != nil {
			t.Fatal(err)
		}
		if s.Downloads != 0 || s.Uploads != 0 {
			t.Fatalf("p=%v: transfers %+v, want none", p, s)
		}
		if !fakedevice.SameBits(dy.Value(), cy.Value()) || !fakedevice.SameBits(dx.Grad(), cx.Grad()) {
			t.Fatalf("p=%v: dropout on the device differs from the CPU's", p)
		}
		// The gradient is 2·y·scale where kept, +0 where dropped.
		yv, gv, scale := cy.Value().Data(), cx.Grad().Data(), float32(0)
		if p < 1 {
			scale = float32(1 / (1 - p))
		}
		dropped := 0
		for i, v := range yv {
			if math.Float32bits(v) == 0 {
				dropped++
				if math.Float32bits(gv[i]) != 0 {
					t.Fatalf("p=%v: element %d dropped but its gradient is %v", p, i, gv[i])
				}
			} else if want := float32(2*v) * scale; gv[i] != want {
				t.Fatalf("p=%v: element %d gradient %v, want %v", p, i, gv[i], want)
			}
		}
		if (p == 1) != (dropped == len(yv)) || dropped == 0 {
			t.Fatalf("p=%v: %d of %d dropped", p, dropped, len(yv))
		}
	}
}
