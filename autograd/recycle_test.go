package autograd

import (
	"math/rand/v2"
	"runtime"
	"runtime/debug"
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

// TestBackwardAccumulatesInPlace: a value with several consumers (h, read
// by three ops) gets its gradients summed into one that Backward made
// instead of into new tensors, except where that one is shared: Add(h, h)
// hands one gradient to both of its inputs, so when its gradients reach h
// first, their sum makes a new tensor. Integer-valued seeds keep every sum
// exact, so x's gradient must be 2·(2+3+5)·seed exactly, with in-place
// sums and without. Of the three sums into h, in-place accumulation saves
// all three when the products' gradients arrive first, two when Add(h, h)'s
// do (the walk visits the root's later input first).
func TestBackwardAccumulatesInPlace(t *testing.T) {
	const n = 4096
	r := rand.New(rand.NewPCG(7, 8))
	seed := integerSeed(r, n)
	run := func(inPlace, sharedFirst bool) (*tensor.Tensor, uint64) {
		t.Helper()
		defer func(v bool) { accumulateInPlace = v }(accumulateInPlace)
		accumulateInPlace = inPlace
		x := Param(tensor.Randn(r, n))
		h := MulScalar(x, 2)
		twice, products := MulScalar(Add(h, h), 1), Add(MulScalar(h, 3), MulScalar(h, 5))
		y := Add(twice, products)
		if sharedFirst {
			y = Add(products, twice)
		}
		mark := tensor.AllocMark()
		if err := y.BackwardWith(seed); err != nil {
			t.Fatal(err)
		}
		return x.Grad(), tensor.AllocMark() - mark
	}
	for _, c := range []struct {
		sharedFirst bool
		saved       uint64
	}{{false, 3}, {true, 2}} {
		gOn, madeOn := run(true, c.sharedFirst)
		gOff, madeOff := run(false, c.sharedFirst)
		for i, s := range seed.Data() {
			if want := 20 * s; gOn.Data()[i] != want || gOff.Data()[i] != want {
				t.Fatalf("shared first %v: x's gradient at %d: %v in place, %v not, want %v", c.sharedFirst, i, gOn.Data()[i], gOff.Data()[i], want)
			}
		}
		if madeOn+c.saved != madeOff {
			t.Errorf("shared first %v: Backward made %d storages accumulating in place, %d without: want %d fewer", c.sharedFirst, madeOn, madeOff, c.saved)
		}
	}
}

// Two nodes handed one gradient (Add's backward) keep it whole while either
// still holds it: a later gradient for one of them must not be added into
// the tensor the other holds. Exactly, with integer seeds: z's gradient is
// 7·(11+1)·seed and x's 3·(3+1)·seed, whichever of a and b gets its second
// gradient while the other still holds the shared one.
func TestBackwardAccumulateKeepsSharedGradients(t *testing.T) {
	const n = 4096
	r := rand.New(rand.NewPCG(9, 10))
	seed := integerSeed(r, n)
	x, z := Param(tensor.Randn(r, n)), Param(tensor.Randn(r, n))
	a, b := MulScalar(x, 3), MulScalar(z, 7)
	shared := MulScalar(Add(a, b), 1) // a and b get one tensor
	y := Add(Add(MulScalar(b, 11), MulScalar(a, 3)), shared)
	if err := y.BackwardWith(seed); err != nil {
		t.Fatal(err)
	}
	for i, s := range seed.Data() {
		if gx, gz := x.Grad().Data()[i], z.Grad().Data()[i]; gx != 12*s || gz != 84*s {
			t.Fatalf("at %d: x's gradient %v, want %v; z's %v, want %v", i, gx, 12*s, gz, 84*s)
		}
	}
}

// An op with an input that needs no gradient hands back nil for it; the
// in-place sum into its other input must cope (it once dereferenced the nil).
func TestBackwardAccumulatesBesideConstants(t *testing.T) {
	const n = 1 << 15
	r := rand.New(rand.NewPCG(15, 16))
	x, c := Param(tensor.Randn(r, n)), Const(tensor.Full(3, n))
	h := MulScalar(x, 2)
	if err := Sum(Add(Mul(h, c), MulScalar(h, 5)), false).Backward(); err != nil {
		t.Fatal(err)
	}
	for i, g := range x.Grad().Data() {
		if g != 16 {
			t.Fatalf("x's gradient at %d: %v, want 2·(3+5)", i, g)
		}
	}
}

// integerSeed is a gradient seed of n small integers (-8..8), with which
// every sum and product in the tests above stays exact in float32.
func integerSeed(r *rand.Rand, n int) *tensor.Tensor {
	seed := tensor.Zeros(n)
	for i := range seed.Data() {
		seed.Data()[i] = float32(r.IntN(17) - 8)
	}
	return seed
}

// TestRecycleValues runs three training-like steps with Backward's
// RecycleValues in each recycling mode and wants, bit for bit, the
// gradients of plain Backward. It also wants what the option promises to
// leave alone left alone (the root, a kept intermediate, a view of a
// parameter, a value made before the mark, the parameters), and what it
// promises to take taken: in poison mode an intermediate that was not kept
// reads NaN after Backward, and with recycling on the next step's first
// activation lands in the storage the previous step handed back.
func TestRecycleValues(t *testing.T) {
	const rows, cols = 8, 4096
	r := rand.New(rand.NewPCG(7, 8))
	xv, wv, in := tensor.Randn(r, rows, cols), tensor.Randn(r, rows, cols), tensor.Randn(r, rows, cols)
	type stepOut struct {
		grads            []*tensor.Tensor
		loss, kept       float32
		dropped, viewSum float32
		preSum, paramSum float32
		allocated        uint64 // bytes, the step's forward and backward
	}
	run := func(mode string, recycle bool) []stepOut {
		prev, err := tensor.SetRecycle(mode)
		if err != nil {
			t.Fatal(err)
		}
		defer tensor.SetRecycle(prev)
		tensor.DropRecycled()
		x, w := Param(xv.Clone()), Param(wv.Clone())
		var outs []stepOut
		for range 3 {
			x.ZeroGrad()
			w.ZeroGrad()
			pre := Tanh(Mul(x, Const(in))) // in the graph, but made before the mark
			preWant := tensor.Sum(pre.Value(), false).Item()
			mark := tensor.AllocMark()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			a := Mul(x, w)
			b := Relu(Add(a, pre))
			view := Reshape(x, rows*cols) // shares the parameter's storage
			c := Mul(Reshape(b, rows*cols), view)
			kept := Exp(MulScalar(c, 0.01))
			loss := Mean(Mul(kept, kept), false)
			keptWant := tensor.Sum(kept.Value(), false).Item()
			var opts []BackwardOption
			if recycle {
				opts = append(opts, RecycleValues(mark, kept))
			}
			if err := loss.Backward(opts...); err != nil {
				t.Fatal(err)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			o := stepOut{
				allocated: after.TotalAlloc - before.TotalAlloc,
				grads:     []*tensor.Tensor{x.Grad().Clone(), w.Grad().Clone()},
				loss:      loss.Value().Item(),
				kept:      tensor.Sum(kept.Value(), false).Item(),
				dropped:   a.Value().Data()[0],
				viewSum:   tensor.Sum(view.Value(), false).Item(),
				preSum:    tensor.Sum(pre.Value(), false).Item(),
				paramSum:  tensor.Sum(x.Value(), false).Item(),
			}
			if o.kept != keptWant {
				t.Errorf("%s: the kept value changed in Backward: sum %v, was %v", mode, o.kept, keptWant)
			}
			if o.preSum != preWant {
				t.Errorf("%s: a value made before the mark changed: sum %v, was %v", mode, o.preSum, preWant)
			}
			outs = append(outs, o)
			// An SGD-like update in place, so that each step differs.
			x.Value().AxpyInPlace(-0.1, x.Grad())
			w.Value().AxpyInPlace(-0.1, w.Grad())
		}
		return outs
	}
	// A collection during a step frees the values no backward reads (a+pre)
	// before Backward can hand them back, as it may in a real step; with the
	// collector off the count of recycled activations is exact.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	want := run("off", false)
	plainOn := run("on", false)
	for _, mode := range []string{"off", "on", "poison"} {
		got := run(mode, true)
		for s := range got {
			g, w := got[s], want[s]
			for i := range g.grads {
				if j, same := sameFloats(g.grads[i].Data(), w.grads[i].Data()); !same {
					t.Errorf("%s step %d: gradient %d differs at %d: %v, plain Backward %v", mode, s, i, j, g.grads[i].Data()[j], w.grads[i].Data()[j])
				}
			}
			if g.loss != w.loss || g.viewSum != w.viewSum || g.paramSum != w.paramSum {
				t.Errorf("%s step %d: loss %v, parameter view %v, parameter %v; plain Backward %v, %v, %v",
					mode, s, g.loss, g.viewSum, g.paramSum, w.loss, w.viewSum, w.paramSum)
			}
			switch mode {
			case "poison":
				if d := g.dropped; d == d {
					t.Errorf("poison step %d: an intermediate not kept reads %v after Backward, want NaN: it was not recycled", s, d)
				}
			case "on":
				// Six of the step's activations are recycled (a, a+pre,
				// b, c, c/100, kept²); pre's two, made before the step's
				// mark, take two of them back. The other four must come
				// from the cache, not from fresh memory, less the option's
				// own bookkeeping (a weak pointer per op, a few hundred
				// bytes).
				const activation = rows * cols * 4
				if saved := int64(plainOn[s].allocated) - int64(g.allocated); s > 0 && saved < 4*activation-1024 {
					t.Errorf("step %d: allocated %d bytes, plain Backward %d: RecycleValues saved %d, want at least %d",
						s, g.allocated, plainOn[s].allocated, saved, 4*activation-1024)
				}
			}
		}
	}
}
