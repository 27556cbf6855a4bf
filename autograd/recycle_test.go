package autograd

import (
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/tensor"
)

// TestBackwardRecyclingKeepsGradients runs one graph full of the cases
// that make recycling a consumed gradient unsafe — an op whose backward
// returns its gradient unchanged for two inputs (Add of a value with
// itself), views of a gradient (Reshape, Slice, Concat's pieces), a
// Custom op that hands g straight on, a leaf reached along several paths,
// two leaves handed one tensor, and a second Backward adding into the leaves' gradients — with
// recycling on, off and in poison mode (recycled storage filled with NaN
// and never reused), and wants the same gradients bit for bit from all
// three. Tensors are large enough to be cached.
func TestBackwardRecyclingKeepsGradients(t *testing.T) {
	const rows, cols = 8, 4096
	r := rand.New(rand.NewPCG(5, 6))
	xv, wv := tensor.Randn(r, rows, cols), tensor.Randn(r, rows, cols)
	seed := tensor.Randn(r, rows, cols)
	run := func(mode string) []*tensor.Tensor {
		prev, err := tensor.SetRecycle(mode)
		if err != nil {
			t.Fatal(err)
		}
		defer tensor.SetRecycle(prev)
		tensor.DropRecycled()
		x, w := Param(xv.Clone()), Param(wv.Clone())
		u, v := Param(xv.Clone()), Param(wv.Clone())
		for range 2 {
			a := Mul(x, w)
			b := Add(a, a)
			c := Reshape(Relu(b), rows*cols)
			pass := Custom("pass", c.Value(), func(g *tensor.Tensor) []*tensor.Tensor { return []*tensor.Tensor{g} }, c)
			d := Reshape(pass, rows, cols)
			halves := Concat(0, Slice(d, 0, rows/2), Slice(d, rows/2, rows))
			e := Add(Add(Mul(halves, x), Tanh(w)), MulScalar(Add(u, v), 2)) // u and v get one tensor
			if err := e.BackwardWith(seed); err != nil {
				t.Fatal(err)
			}
		}
		return []*tensor.Tensor{x.Grad(), w.Grad(), u.Grad(), v.Grad()}
	}
	want := run("off")
	for _, mode := range []string{"on", "poison"} {
		got := run(mode)
		for i, g := range got {
			if j, same := sameFloats(g.Data(), want[i].Data()); !same {
				t.Errorf("recycling %s: gradient %d differs at %d: %v, without recycling %v", mode, i, j, g.Data()[j], want[i].Data()[j])
			}
		}
	}
	// u and v each get 2·seed per Backward, whatever the mode; a gradient
	// the two leaves shared would show twice that.
	for i, g := range want[2:] {
		for j, s := range seed.Data() {
			if g.Data()[j] != 4*s {
				t.Fatalf("leaf %d: gradient %v at %d, want 4·seed = %v", i+2, g.Data()[j], j, 4*s)
			}
		}
	}
	// The seed belongs to the caller and is never recycled.
	for i, v := range seed.Data() {
		if v != v {
			t.Fatalf("the seed gradient was poisoned at %d", i)
		}
	}
}
