package backbone

import (
	"bufio"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// TestInferChunkedMatchesOnePass compares chunked inference (chunks of 3
// over 7 images: two full chunks and a short one) with one ForwardTaps of
// the whole batch, in eval mode, for narrow versions of the two largest
// encoders. Eval-mode layers treat every image on its own, so the values
// must agree exactly. The one pass runs under NoGrad as inference does: a
// recorded forward may take other convolution algorithms
// (tensor.ConvOptions.ForwardOnly).
func TestInferChunkedMatchesOnePass(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	x := tensor.Randn(rng, 7, 3, 32, 32)
	for _, tc := range []struct {
		name string
		net  tappedModule
	}{
		{"densenet-22", NewDenseNetBC(rng, 22, 4, 0.5)},
		{"wresnet-10-1", NewWideResNetWith(rng, 10, 1, 0.1)},
	} {
		nn.SetTraining(tc.net, false)
		var h *autograd.Var
		var taps [3]*autograd.Var
		autograd.NoGrad(func() { h, taps = tc.net.ForwardTaps(autograd.Const(x)) })
		f, err := InferChunked(tc.net, nil, x, 3)
		if err != nil {
			t.Fatal(err)
		}
		if f.Mu != nil {
			t.Errorf("%s: mu without a head", tc.name)
		}
		same := func(what string, got, want *tensor.Tensor) {
			if !slices.Equal(got.Shape(), want.Shape()) || !slices.Equal(got.Data(), want.Data()) {
				t.Errorf("%s %s: chunked result differs from one pass (shapes %v, %v)", tc.name, what, got.Shape(), want.Shape())
			}
		}
		same("h", f.H, h.Value())
		for i := range taps {
			same("tap"+strconv.Itoa(i), f.Taps[i], taps[i].Value())
		}
		ens := f.Ensemble()
		td := tc.net.TapDims()
		if want := []int{7, td[0] + td[1] + td[2] + tc.net.OutDim()}; !slices.Equal(ens.Shape(), want) {
			t.Errorf("%s: ensemble shape %v, want %v", tc.name, ens.Shape(), want)
		}
	}
}

// TestModelInferChunked checks the model's chunked mu against Forward, the
// default chunk size, and that train mode is refused. Forward runs the fused
// convolution+ReLU and a GEMM over all 5 rows, the chunks the unfused layers
// (ForwardTaps keeps a pre-ReLU tap) and GEMMs of 2 rows, which sum in other
// orders: agreement to float32 rounding (normwise 1e-6), not bit for bit.
func TestModelInferChunked(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	m, err := NewModel("mnist-conv", 6, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.Randn(rng, 5, 1, 28, 28)
	if _, err := m.InferChunked(x, 2); err == nil {
		t.Error("chunked inference in train mode: no error")
	}
	nn.SetTraining(m, false)
	want := m.Forward(autograd.Const(x)).Value()
	for _, chunk := range []int{0, 2} {
		f, err := m.InferChunked(x, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.Mu.Shape(), []int{5, 6}) {
			t.Fatalf("chunk %d: mu shape %v, want [5 6]", chunk, f.Mu.Shape())
		}
		if e := normwiseErr(f.Mu, want); !(e <= 1e-6) {
			t.Errorf("chunk %d: mu differs from Forward's by %.3g normwise", chunk, e)
		}
	}
	if _, err := m.InferChunked(x, -1); err == nil {
		t.Error("negative chunk size: no error")
	}
}

// vmHWMKiB reads the process's peak resident set size.
func vmHWMKiB(b *testing.B) int {
	fh, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Skip("no VmHWM")
	return 0
}

// BenchmarkInferChunk measures chunked inference of the full densenet and
// wresnet at the reference's evaluation batch of 2,500 CIFAR images, for
// several chunk sizes, and reports the process's peak RSS during the call
// (VmHWM, reset through /proc/self/clear_refs after a GC returned the heap
// to the OS) as peak-MiB. The weights and the input (2,500×3×32×32, 29 MiB)
// are part of the peak. Run one case per process for a clean number:
//
//	go test ./nn/backbone -run '^$' -bench 'InferChunk/wresnet/chunk=128$' -benchtime 1x
func BenchmarkInferChunk(b *testing.B) {
	const n = 2500
	for _, enc := range []string{"densenet", "wresnet"} {
		for _, chunk := range []int{32, 128, 512, n} {
			b.Run(enc+"/chunk="+strconv.Itoa(chunk), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				m, err := NewModel(enc, 128, rng)
				if err != nil {
					b.Fatal(err)
				}
				nn.SetTraining(m, false)
				x := tensor.Randn(rng, n, 3, 32, 32)
				runtime.GC()
				debug.FreeOSMemory()
				if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
					b.Skipf("cannot reset the peak RSS: %v", err)
				}
				base := vmHWMKiB(b)
				b.ResetTimer()
				for range b.N {
					if _, err := m.InferChunked(x, chunk); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(vmHWMKiB(b))/1024, "peak-MiB")
				b.ReportMetric(float64(base)/1024, "before-MiB")
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}
