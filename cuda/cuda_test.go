package cuda

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/kernels"
	"github.com/vmdls-go/vmdls/tensor"
)

func TestStatusErrors(t *testing.T) {
	if driverErr("cuMemAlloc", 0) != nil || blasErr("x", 0) != nil || nvrtcErr("x", 0, "") != nil {
		t.Fatal("success must map to nil")
	}
	e := driverErr("cuMemAlloc", 2)
	if e.Error() != "cuda: cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (2)" || !isOOM(e) {
		t.Fatalf("got %q", e)
	}
	if got := driverErr("cuModuleLoadData", 222).Error(); got != "cuda: cuModuleLoadData: CUDA_ERROR_UNSUPPORTED_PTX_VERSION (222)" {
		t.Fatalf("got %q", got)
	}
	if got := blasErr("cublasSgemm", 7).Error(); got != "cublas: cublasSgemm: CUBLAS_STATUS_INVALID_VALUE (7)" {
		t.Fatalf("got %q", got)
	}
	ne := nvrtcErr("nvrtcCompileProgram", 6, "kernel.cu(3): error")
	if !strings.Contains(ne.Error(), "NVRTC_ERROR_COMPILATION (6)") || !strings.Contains(ne.Error(), "kernel.cu(3)") {
		t.Fatalf("got %q", ne)
	}
	if got := driverErr("f", 4242).Error(); !strings.Contains(got, "CUDA_ERROR_UNKNOWN_STATUS_4242") {
		t.Fatalf("got %q", got)
	}
	if isOOM(errors.New("other")) || isOOM(driverErr("f", 1)) {
		t.Fatal("only out-of-memory statuses are OOM")
	}
}

// fakeMem is a device allocator with a capacity, handing out fake addresses.
type fakeMem struct {
	next, used, capacity int
	live                 map[uintptr]int
}

func (f *fakeMem) malloc(b int) (uintptr, error) {
	if f.used+b > f.capacity {
		return 0, driverErr("cuMemAlloc", 2)
	}
	f.next += b
	f.used += b
	f.live[uintptr(f.next)] = b
	return uintptr(f.next), nil
}

func (f *fakeMem) free(p uintptr, b int) error {
	if f.live[p] != b {
		return driverErr("cuMemFree", 1)
	}
	delete(f.live, p)
	f.used -= b
	return nil
}

func TestSizeClass(t *testing.T) {
	for _, c := range [][2]int{{1, 512}, {512, 512}, {513, 640}, {1000, 1024}, {1025, 1280}, {4096, 4096}, {4097, 5120}} {
		if got := sizeClass(c[0]); got != c[1] {
			t.Errorf("sizeClass(%d) = %d, want %d", c[0], got, c[1])
		}
	}
	for b := 1; b < 1<<20; b = b*3/2 + 1 {
		if c := sizeClass(b); c < b || float64(c) > 1.25*float64(max(b, 512)) {
			t.Errorf("sizeClass(%d) = %d wastes too much", b, c)
		}
	}
}

func TestCachingAllocator(t *testing.T) {
	f := &fakeMem{capacity: 1 << 20, live: map[uintptr]int{}}
	a := newCachingAlloc(f)
	p1, c1, err := a.get(1000)
	if err != nil || c1 != 1024 {
		t.Fatal(err, c1)
	}
	a.put(p1, c1)
	p2, _, _ := a.get(1020) // same class: reused, no device call
	if p2 != p1 {
		t.Fatalf("block not reused")
	}
	s := a.Stats()
	if s.Mallocs != 1 || s.Hits != 1 || s.LiveBytes != 1024 || s.CachedBytes != 0 {
		t.Fatalf("stats %+v", s)
	}
	// Fill the device, free into the cache, then ask for a different class:
	// the allocator must release its cache and retry.
	big, cb, err := a.get(700 << 10)
	if err != nil {
		t.Fatal(err)
	}
	a.put(big, cb)
	a.put(p2, 1024)
	if _, _, err := a.get(600 << 10); err != nil {
		t.Fatalf("no retry after releasing the cache: %v", err)
	}
	s = a.Stats()
	if s.Retries != 1 || s.Frees != 2 || s.CachedBytes != 0 || len(f.live) != 1 {
		t.Fatalf("stats %+v, live %v", s, f.live)
	}
	if _, _, err := a.get(2 << 20); !isOOM(err) {
		t.Fatalf("want out of memory, got %v", err)
	}
	if s.PeakBytes < 700<<10 {
		t.Fatalf("peak %d", s.PeakBytes)
	}
}

// refColSgemm is a column-major SGEMM: element (i,j) of a matrix with
// leading dimension ld is at i + j*ld. It stands in for cuBLAS.
func refColSgemm(c colGemm, alpha float32, a, b []float32, beta float32, cm []float32) {
	at := func(m []float32, tr bool, ld, i, j int) float32 {
		if tr {
			return m[j+i*ld]
		}
		return m[i+j*ld]
	}
	for i := range c.M {
		for j := range c.N {
			var s float64
			for l := range c.K {
				s += float64(at(a, c.TransA, c.Lda, i, l)) * float64(at(b, c.TransB, c.Ldb, l, j))
			}
			v := alpha * float32(s)
			if beta != 0 {
				v += beta * cm[i+j*c.Ldc]
			}
			cm[i+j*c.Ldc] = v
		}
	}
}

func TestGemmMapping(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, sz := range [][3]int{{5, 7, 3}, {1, 9, 4}, {8, 1, 6}, {13, 11, 1}, {33, 17, 29}} {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, beta := range []float32{0, 0.5} {
				m, n, k := sz[0], sz[1], sz[2]
				ra, ca := m, k
				if tr[0] {
					ra, ca = k, m
				}
				rb, cb := k, n
				if tr[1] {
					rb, cb = n, k
				}
				lda, ldb, ldc := ca+2, cb+1, n+3 // padded rows
				a, b := randSlice(r, ra*lda), randSlice(r, rb*ldb)
				c := randSlice(r, m*ldc)
				want := append([]float32{}, c...)
				kernels.Sgemm(tr[0], tr[1], m, n, k, 1.5, a, lda, b, ldb, beta, want, ldc)
				cg := mapRowMajorGemm(tr[0], tr[1], m, n, k, lda, ldb, ldc)
				if !cg.SwapAB {
					t.Fatal("mapping must swap A and B")
				}
				got := append([]float32{}, c...)
				refColSgemm(cg, 1.5, b, a, beta, got)
				if msg := mismatch(got, want, 1e-5, true); msg != "" {
					t.Fatalf("m,n,k=%v trans=%v beta=%v: %s", sz, tr, beta, msg)
				}
			}
		}
	}
	if c := mapRowMajorGemm(false, true, 4, 3, 0, 0, 0, 3); c.Lda < 1 || c.Ldb < 1 {
		t.Fatalf("zero leading dimensions must become 1: %+v", c)
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

func TestKernelSource(t *testing.T) {
	if len(unaryDefs) != numUnary || len(binaryDefs) != numBinary || len(reduceNames) != int(tensor.RLogSumExp)+1 {
		t.Fatal("an op enum and its kernel table differ in size")
	}
	src := kernelSource()
	if src != kernelSource() {
		t.Fatal("source generation is not deterministic")
	}
	// scripts/nvrtc-check.sh compiles the dumped source with an NVRTC on a
	// machine without a GPU.
	if path := os.Getenv("VMDLS_DUMP_KERNELS"); path != "" {
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for i := range numUnary {
		names = append(names, unaryKernel(tensor.UnaryOp(i)))
	}
	for i := range numBinary {
		names = append(names, binaryKernel(tensor.BinaryOp(i)), binaryStridedKernel(tensor.BinaryOp(i)))
	}
	for op := range reduceNames {
		names = append(names, reduceKernel(op, false), reduceKernel(op, true))
	}
	names = append(names, "vm_fill", "vm_axpy", "vm_strided_copy", "vm_where",
		"vm_im2col", "vm_col2im", "vm_conv_out", "vm_nchw_to_kn", "vm_conv_bias_grad",
		"vm_maxpool", "vm_maxpool_backward", "vm_avgpool", "vm_avgpool_backward",
		"vm_channel_stats", "vm_channel_affine", "vm_bn_backward_reduce", "vm_bn_backward_dx",
		"vm_softmax", "vm_argreduce", "vm_gather", "vm_index_add", "vm_sgd_step", "vm_adam_step", "vm_dropout")
	for _, n := range names {
		if c := strings.Count(src, "__global__ void "+n+"("); c != 1 {
			t.Errorf("kernel %s defined %d times", n, c)
		}
	}
	for _, p := range [][2]string{{"{", "}"}, {"(", ")"}} {
		if strings.Count(src, p[0]) != strings.Count(src, p[1]) {
			t.Errorf("unbalanced %s%s in the generated source", p[0], p[1])
		}
	}
}

func TestCoalesce(t *testing.T) {
	// A permuted view: offsets visited in row-major order must not change.
	shape := []int{2, 1, 3, 4}
	src := []int{12, 99, 4, 1} // contiguous except the size-1 axis
	dst := []int{1, 0, 8, 2}
	sh, st := coalesce(shape, src, dst)
	if len(sh) != 2 { // the size-1 axis drops; the last two merge for both
		t.Fatalf("shape %v strides %v", sh, st)
	}
	if got, want := offsets(sh, st[0]), offsets(shape, src); !slices.Equal(got, want) {
		t.Fatalf("src offsets %v, want %v", got, want)
	}
	if got, want := offsets(sh, st[1]), offsets(shape, dst); !slices.Equal(got, want) {
		t.Fatalf("dst offsets %v, want %v", got, want)
	}
	sh, st = coalesce([]int{4, 5, 6}, []int{30, 6, 1})
	if !isContig(sh, st[0]) {
		t.Fatalf("contiguous view not merged: %v %v", sh, st)
	}
}

func offsets(shape, st []int) []int {
	var r []int
	idx := make([]int, len(shape))
	for n := 0; n < numelInts(shape); n++ {
		o := 0
		for d := range idx {
			o += idx[d] * st[d]
		}
		r = append(r, o)
		for d := len(idx) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return r
}

func numelInts(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

func TestMismatch(t *testing.T) {
	if m := mismatch([]float32{1, 2}, []float32{1, 2.00001}, 1e-5, false); m != "" {
		t.Fatal(m)
	}
	if m := mismatch([]float32{1, 2.1}, []float32{1, 2}, 1e-5, false); !strings.Contains(m, "element 1") {
		t.Fatalf("got %q", m)
	}
	// normwise: an entry near zero is judged against the largest one.
	if m := mismatch([]float32{1e-6, 100}, []float32{2e-6, 100}, 1e-5, true); m != "" {
		t.Fatal(m)
	}
}

func TestSelfTestHarnessOnCPU(t *testing.T) {
	// The CPU against itself must pass every case (it checks that the cases
	// are well-formed); a broken op must be reported with its name.
	if err := runSelfTest(tensor.CPU, selfTestCases(64), io.Discard); err != nil {
		t.Fatal(err)
	}
	bad := stCase{name: "broken", rtol: 1e-5,
		inputs: func(r *rand.Rand) []*tensor.Tensor { return []*tensor.Tensor{tensor.Ones(3)} },
		op: func(in []*tensor.Tensor) *tensor.Tensor {
			if in[0].Data()[0] == 1 && in[0].Numel() == 3 && isSecondRun() {
				return tensor.Full(2, 3)
			}
			return in[0].Clone()
		}}
	runs = 0
	var sb strings.Builder
	err := runSelfTest(tensor.CPU, []stCase{bad}, &sb)
	if err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(sb.String(), "FAIL") {
		t.Fatalf("mismatch not reported: %v\n%s", err, sb.String())
	}
}

var runs int

func isSecondRun() bool { runs++; return runs == 2 }
