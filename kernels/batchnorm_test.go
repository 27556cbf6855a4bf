package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBatchNormKernels holds each batch-norm kernel on the current path to
// its Go twin bit for bit (the results must not depend on the path), and
// the sums to a float64 oracle, for lengths around the block sizes.
func TestBatchNormKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1024, 1031} {
		x, g := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = rng.Float32()*4 + 3
			g[i] = rng.Float32()*2 - 1
		}
		m := 4.9
		s, sq := SumDiff64(x, m)
		n16 := n &^ 15
		ws, wsq := sumDiff64Go(x[:n16], m)
		for _, v := range x[n16:] {
			d := float64(v) - m
			ws += d
			wsq += float64(d * d)
		}
		if s != ws || sq != wsq {
			t.Errorf("n=%d: SumDiff64 = %v, %v; twin %v, %v", n, s, sq, ws, wsq)
		}
		var os, osq, og, ogx float64
		for i, v := range x {
			os += float64(v) - m
			osq += (float64(v) - m) * (float64(v) - m)
			og += float64(g[i])
			ogx += float64(g[i]) * (float64(v) - m)
		}
		if math.Abs(s-os) > 1e-12*(1+math.Abs(os)) || math.Abs(sq-osq) > 1e-12*(1+osq) {
			t.Errorf("n=%d: SumDiff64 = %v, %v; oracle %v, %v", n, s, sq, os, osq)
		}
		sg, sgx := SumProdDiff64(g, x, m)
		wg, wgx := sumProdDiff64Go(g[:n16], x[:n16], m)
		for i := n16; i < n; i++ {
			wg += float64(g[i])
			wgx += float64(float64(g[i]) * (float64(x[i]) - m))
		}
		if sg != wg || sgx != wgx {
			t.Errorf("n=%d: SumProdDiff64 = %v, %v; twin %v, %v", n, sg, sgx, wg, wgx)
		}
		if math.Abs(sg-og) > 1e-12*(1+math.Abs(og)) || math.Abs(sgx-ogx) > 1e-12*(1+math.Abs(ogx)) {
			t.Errorf("n=%d: SumProdDiff64 = %v, %v; oracle %v, %v", n, sg, sgx, og, ogx)
		}

		// The passes, into NaN-canaried buffers.
		got := make([]float32, n+2)
		want := make([]float32, n+2)
		for i := range got {
			got[i], want[i] = float32(math.NaN()), float32(math.NaN())
		}
		ScaleShift(got[1:n+1], x, 0.7, -1.3)
		scaleShiftGo(want[1:n+1], x, 0.7, -1.3)
		same(t, "ScaleShift", n, got, want)
		BatchNormInputGrad(got[1:n+1], g, x, 0.7, 0.2, 4.9, 0.05)
		bnInputGradGo(want[1:n+1], g, x, 0.7, 0.2, 4.9, 0.05)
		same(t, "BatchNormInputGrad", n, got, want)
		for i := 0; i < n; i++ {
			o := float64(g[i])*0.7 - (float64(x[i])-float64(float32(4.9)))*float64(float32(0.2)) - float64(float32(0.05))
			if math.Abs(float64(got[i+1])-o) > 1e-5*(1+math.Abs(o)) {
				t.Fatalf("n=%d: BatchNormInputGrad[%d] = %v, oracle %v", n, i, got[i+1], o)
			}
		}
	}
}

func same(t *testing.T, name string, n int, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s n=%d: [%d] = %v, twin %v", name, n, i, got[i], want[i])
		}
	}
}
