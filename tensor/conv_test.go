package tensor

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

func dot64(a, b *Tensor) float64 {
	var s float64
	for i, v := range a.Data() {
		s += float64(v) * float64(b.Data()[i])
	}
	return s
}

// The transposed convolution is the adjoint of the convolution with the same
// filters: <conv(x, w), y> = <x, convT(y, w)>; and the primitives' backward
// passes are the adjoints of their forward passes.
func TestConvTransposeIsAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		x, w     []int
		s, p, op [2]int
	}{
		{[]int{2, 3, 7, 6}, []int{4, 3, 3, 3}, [2]int{2, 2}, [2]int{1, 1}, [2]int{0, 1}},
		{[]int{1, 2, 5, 5}, []int{3, 2, 2, 2}, [2]int{1, 1}, [2]int{0, 0}, [2]int{0, 0}},
		{[]int{2, 2, 8, 9}, []int{2, 2, 4, 3}, [2]int{2, 3}, [2]int{1, 0}, [2]int{1, 2}},
	} {
		x, w := Randn(rng, c.x...), Randn(rng, c.w...)
		y := Conv2d(x, w, nil, c.s, c.p)
		g := Randn(rng, y.Shape()...)
		xt := ConvTranspose2d(g, w, nil, c.s, c.p, c.op)
		// xt may be larger than x by the output padding; compare on x's extent.
		xt = xt.Narrow(2, 0, c.x[2]).Narrow(3, 0, c.x[3])
		if a, b := dot64(y, g), dot64(x, xt); math.Abs(a-b) > 1e-4*math.Max(1, math.Abs(a)) {
			t.Errorf("%v: <conv x, g> = %g, <x, convT g> = %g", c, a, b)
		}
		dx, _, _ := Conv2dBackward(g, x, w, c.s, c.p, true, false, false)
		if a, b := dot64(y, g), dot64(x, dx); math.Abs(a-b) > 1e-4*math.Max(1, math.Abs(a)) {
			t.Errorf("%v: conv backward is not the adjoint: %g vs %g", c, a, b)
		}
	}
	// Pooling: average pooling's backward is its adjoint.
	x := Randn(rng, 2, 3, 7, 6)
	for _, inc := range []bool{true, false} {
		y := AvgPool2d(x, [2]int{3, 2}, [2]int{2, 2}, [2]int{1, 1}, inc)
		g := Randn(rng, y.Shape()...)
		dx := AvgPool2dBackward(g, x.Shape(), [2]int{3, 2}, [2]int{2, 2}, [2]int{1, 1}, inc)
		if a, b := dot64(y, g), dot64(x, dx); math.Abs(a-b) > 1e-4*math.Max(1, math.Abs(a)) {
			t.Errorf("avg pool countIncludePad=%v: %g vs %g", inc, a, b)
		}
	}
}

func TestBatchNormEvalIsAffine(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := Randn(rng, 3, 2, 4, 5)
	gamma, beta := FromSlice([]float32{1.5, -0.5}, 2), FromSlice([]float32{0.1, 0.2}, 2)
	rm, rv := FromSlice([]float32{0.3, -1}, 2), FromSlice([]float32{2, 0.5}, 2)
	y, _, _ := BatchNorm2d(x, gamma, beta, rm, rv, false, 0.1, 1e-5)
	for i, v := range x.Data() {
		c := (i / 20) % 2
		want := (float64(v)-float64(rm.Data()[c]))/math.Sqrt(float64(rv.Data()[c])+1e-5)*float64(gamma.Data()[c]) + float64(beta.Data()[c])
		if math.Abs(float64(y.Data()[i])-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Fatalf("element %d: %v, want %v", i, y.Data()[i], want)
		}
	}
	if rm.Data()[0] != 0.3 || rv.Data()[1] != 0.5 {
		t.Error("evaluation changed the running statistics")
	}
}

// Convolutions running at once from several goroutines share the scratch
// free list and the worker pool; run under -race.
func TestConvConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x, w := Randn(rng, 4, 3, 9, 9), Randn(rng, 5, 3, 3, 3)
	want := Conv2d(x, w, nil, [2]int{1, 1}, [2]int{1, 1})
	wdx, wdw, _ := Conv2dBackward(want, x, w, [2]int{1, 1}, [2]int{1, 1}, true, true, false)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				y := Conv2d(x, w, nil, [2]int{1, 1}, [2]int{1, 1})
				dx, dw, _ := Conv2dBackward(y, x, w, [2]int{1, 1}, [2]int{1, 1}, true, true, false)
				if !AllClose(y, want, 0, 0) || !AllClose(dx, wdx, 0, 0) || !AllClose(dw, wdw, 0, 0) {
					t.Error("concurrent convolution gave different results")
					return
				}
			}
		}()
	}
	wg.Wait()
}
