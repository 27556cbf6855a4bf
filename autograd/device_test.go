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
// where dropped, also for negative and infinite inputs) and costs one
// upload of the mask and no download.
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
		if s.Downloads != 0 || s.Uploads != 1 || s.UploadElems != int64(x.Numel()) {
			t.Fatalf("p=%v: transfers %+v, want one upload of the mask", p, s)
		}
		if !fakedevice.SameBits(dy.Value(), cy.Value()) || !fakedevice.SameBits(dx.Grad(), cx.Grad()) {
			t.Fatalf("p=%v: dropout on the device differs from the CPU's", p)
		}
	}
}
