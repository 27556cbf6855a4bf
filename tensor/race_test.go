package tensor

import (
	"slices"
	"sync"
	"testing"
)

// TestConcurrentOps runs big ops from several goroutines at once (each
// splitting its own work over the kernel pool) and checks every result
// equals the one computed alone: results must not depend on what else runs.
// Run under `go test -race ./tensor/` to check for data races.
func TestConcurrentOps(t *testing.T) {
	src := newSrc(14)
	a, b := randT(src, 256, 300), randT(src, 300)
	m1, m2 := randT(src, 96, 80), randT(src, 3, 80, 64)
	x := randT(src, 16, 8, 24, 24)
	s1, s2 := randT(src, 64, 8, 9), randT(src, 64, 9, 7)
	ops := []func() *Tensor{
		func() *Tensor { return Add(a, b) },
		func() *Tensor { return Mul(x, Sum(x, true, 0, 2, 3)) },
		func() *Tensor { return MatMul(m1, m2) },
		func() *Tensor { return MatMulT(m2, m2, true, false) },
		func() *Tensor { return MatMul(s1, s2) },
		func() *Tensor { return Sum(x, false, 1) },
		func() *Tensor { return Softmax(a, 1) },
		func() *Tensor { return x.Permute(0, 2, 3, 1) },
		func() *Tensor { return Exp(Clamp(x, -3, 3)) },
		func() *Tensor { v, _ := Max(x, 1, false); return v },
		func() *Tensor { return Sum(Arange(1<<17), false) },
	}
	want := make([][]float32, len(ops))
	for i, f := range ops {
		want[i] = f().Data()
	}
	const workers = 6
	var wg sync.WaitGroup
	errs := make(chan string, workers*len(ops))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < 3; r++ {
				for k := range ops {
					i := (k + w) % len(ops)
					if got := ops[i]().Data(); !slices.Equal(got, want[i]) {
						errs <- "op " + string(rune('0'+i)) + " differs when run concurrently"
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
