package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkElementwise times every kernel on both paths at n = 4096 (in L1/L2)
// and n = 1<<20 (4 MiB per slice, beyond L2), reporting elements and bytes
// moved (inputs read plus output written; Axpy reads and writes y) per
// second. For example:
//
//	go test -run XXX -bench 'Elementwise/(Exp|Add)/' -count 5 ./kernels/
func BenchmarkElementwise(b *testing.B) {
	for ci := range ewCases {
		c := &ewCases[ci]
		for _, n := range []int{4096, 1 << 20} {
			r := rand.New(rand.NewPCG(5, uint64(ci)))
			in := make([][]float32, c.inputs)
			for k := range in {
				in[k] = make([]float32, n)
				for i := range in[k] {
					switch c.name {
					case "Exp":
						in[k][i] = float32(r.Float64()*20 - 10)
					case "Log":
						in[k][i] = float32(r.ExpFloat64() * 10)
					default:
						in[k][i] = float32(r.NormFloat64())
					}
				}
			}
			dst := make([]float32, n)
			bytes := float64(4 * n * (c.inputs + 1))
			if c.name == "Axpy" {
				bytes = float64(4 * n * 3)
			}
			if c.reduction() {
				dst = dst[:1]
				bytes = float64(4 * n * c.inputs)
			}
			paths := []struct {
				name string
				f    func([]float32, [][]float32, float32)
			}{{"asm", c.asm}, {"generic", c.gen}}
			for _, p := range paths {
				b.Run(fmt.Sprintf("%s/%s/n=%d", c.name, p.name, n), func(b *testing.B) {
					if p.name == "asm" && !ewAsmOK {
						b.Skip("no AVX2+FMA")
					}
					for b.Loop() {
						p.f(dst, in, 1e-7) // tiny alpha keeps Axpy's y bounded
					}
					sec := b.Elapsed().Seconds()
					b.ReportMetric(float64(n)*float64(b.N)/sec/1e9, "Gelem/s")
					b.ReportMetric(bytes*float64(b.N)/sec/1e9, "GB/s")
				})
			}
		}
	}
}
