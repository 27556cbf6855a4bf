package tensor

import (
	"testing"
)

// reportGBs reports memory throughput counting every float32 read and
// written once.
func reportGBs(b *testing.B, floats int) {
	b.ReportMetric(float64(floats)*4*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

func BenchmarkAddSameShape1M(b *testing.B) {
	src := newSrc(1)
	x, y := randT(src, 1<<20), randT(src, 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		Add(x, y)
	}
	reportGBs(b, 3<<20)
}

func BenchmarkAddBroadcastRow256x1024(b *testing.B) {
	src := newSrc(2)
	x, y := randT(src, 256, 1024), randT(src, 1024)
	b.ReportAllocs()
	for b.Loop() {
		Add(x, y)
	}
	reportGBs(b, 2*256*1024)
}

func BenchmarkAddBroadcastChannel(b *testing.B) {
	src := newSrc(3)
	x, y := randT(src, 32, 64, 16, 16), randT(src, 1, 64, 1, 1)
	b.ReportAllocs()
	for b.Loop() {
		Add(x, y)
	}
	reportGBs(b, 2*x.n)
}

func BenchmarkSumAxis0_1024x1024(b *testing.B) {
	x := randT(newSrc(4), 1024, 1024)
	b.ReportAllocs()
	for b.Loop() {
		Sum(x, false, 0)
	}
	reportGBs(b, x.n)
}

func BenchmarkSumAxis1_1024x1024(b *testing.B) {
	x := randT(newSrc(5), 1024, 1024)
	b.ReportAllocs()
	for b.Loop() {
		Sum(x, false, 1)
	}
	reportGBs(b, x.n)
}

func BenchmarkSumAll4M(b *testing.B) {
	x := randT(newSrc(6), 1<<22)
	b.ReportAllocs()
	for b.Loop() {
		Sum(x, false)
	}
	reportGBs(b, x.n)
}

func BenchmarkMatMul512(b *testing.B) {
	src := newSrc(7)
	x, y := randT(src, 512, 512), randT(src, 512, 512)
	b.ReportAllocs()
	for b.Loop() {
		MatMul(x, y)
	}
	b.ReportMetric(2*512*512*512*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSoftmax256x1000(b *testing.B) {
	x := randT(newSrc(8), 256, 1000)
	b.ReportAllocs()
	for b.Loop() {
		Softmax(x, 1)
	}
	reportGBs(b, 2*x.n)
}
