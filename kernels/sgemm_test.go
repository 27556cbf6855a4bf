package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/cpuid/v2"
	"github.com/vmdls-go/vmdls/internal/allocs"
	"github.com/vmdls-go/vmdls/parallel"
)

// Tolerances. A float32 dot product of length k accumulated in any order,
// with or without fused multiply-adds, has an error of at most
// k*u*sum_p |a_ip*b_pj| (u = 2^-24, the unit roundoff; Higham, Accuracy and
// Stability, §3.1). Scaling by alpha and adding beta*c adds two more
// roundings of the final magnitude. We allow (k+3)*eps with eps = 2^-23 =
// 2u, i.e. twice the worst-case bound, measured element by element against a
// float64 oracle: this is tighter than the usual k*eps*max|A|*max|B| and no
// correct kernel can exceed it, while a wrong index or a missed term exceeds
// it by orders of magnitude (entries are O(1) random numbers).
const eps32 = 1.0 / (1 << 23)

// tolerance returns the allowed error of C[i][j] given the float64 sum of
// |a||b| over p and the float64 |beta*c|.
func tolerance(k int, alpha float32, absDot, absBetaC float64) float64 {
	return float64(k+3)*eps32*(math.Abs(float64(alpha))*absDot+absBetaC) + 1e-30
}

// mat is a stored matrix with a leading dimension and an offset into a
// larger slice, so that tests exercise unaligned sub-slices.
type mat struct {
	buf        []float32 // the whole allocation
	off        int       // where the matrix starts in buf
	rows, cols int       // as stored
	ld         int
}

func (x mat) data() []float32 { return x.buf[x.off:] }

func (x mat) at(i, j int) float32 { return x.buf[x.off+i*x.ld+j] }

// newMat makes a rows×cols matrix with leading dimension cols+pad, starting
// off floats into its buffer, filled with uniform values in [-1, 1). Every
// element of the buffer outside the matrix holds a NaN canary.
func newMat(rng *rand.Rand, rows, cols, pad, off int) mat {
	ld := max(1, cols+pad)
	n := off + max(0, (rows-1)*ld+cols) + 5
	x := mat{buf: make([]float32, n), off: off, rows: rows, cols: cols, ld: ld}
	for i := range x.buf {
		x.buf[i] = float32(math.NaN())
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			x.buf[off+i*ld+j] = rng.Float32()*2 - 1
		}
	}
	return x
}

// inside reports whether buffer index t is an element of the matrix.
func (x mat) inside(t int) bool {
	t -= x.off
	if t < 0 || x.rows == 0 || x.cols == 0 {
		return false
	}
	i, j := t/x.ld, t%x.ld
	return i < x.rows && j < x.cols
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	padA, padB     int // extra leading-dimension floats
	padC           int
	offA, offB     int // offsets of the matrices into their buffers
	offC           int
	nanC           bool // fill C with NaN (only with beta == 0)
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%g beta=%g pad=%d,%d,%d off=%d,%d,%d nanC=%v",
		tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC, tc.offA, tc.offB, tc.offC, tc.nanC)
}

// randomCase draws the parts of a case other than the shape.
func randomCase(rng *rand.Rand, m, n, k int) gemmCase {
	alphas := []float32{1, -1, 0.5, 1.75}
	betas := []float32{0, 0, 1, -0.5, 2}
	tc := gemmCase{
		transA: rng.IntN(2) == 1, transB: rng.IntN(2) == 1,
		m: m, n: n, k: k,
		alpha: alphas[rng.IntN(len(alphas))], beta: betas[rng.IntN(len(betas))],
		padA: rng.IntN(6), padB: rng.IntN(6), padC: rng.IntN(6),
		offA: rng.IntN(8), offB: rng.IntN(8), offC: rng.IntN(8),
	}
	tc.nanC = tc.beta == 0 && rng.IntN(2) == 1
	return tc
}

// runCase runs tc through sgemm and checks every element of C against a
// float64 oracle, and that no element of C's buffer outside C changed.
func runCase(t *testing.T, rng *rand.Rand, tc gemmCase, sgemm func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	A := newMat(rng, ar, ac, tc.padA, tc.offA)
	B := newMat(rng, br, bc, tc.padB, tc.offB)
	C := newMat(rng, tc.m, tc.n, tc.padC, tc.offC)
	if tc.nanC {
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				C.buf[C.off+i*C.ld+j] = float32(math.NaN())
			}
		}
	}
	c0 := append([]float32(nil), C.buf...)
	sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, A.data(), A.ld, B.data(), B.ld, tc.beta, C.data(), C.ld)

	opA := func(i, p int) float32 {
		if tc.transA {
			return A.at(p, i)
		}
		return A.at(i, p)
	}
	opB := func(p, j int) float32 {
		if tc.transB {
			return B.at(j, p)
		}
		return B.at(p, j)
	}
	bad := 0
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			var dot, absDot float64
			for p := 0; p < tc.k; p++ {
				x := float64(opA(i, p)) * float64(opB(p, j))
				dot += x
				absDot += math.Abs(x)
			}
			want := float64(tc.alpha) * dot
			var absBC float64
			if tc.beta != 0 {
				bc := float64(tc.beta) * float64(c0[C.off+i*C.ld+j])
				want += bc
				absBC = math.Abs(bc)
			}
			got := float64(C.at(i, j))
			if d := math.Abs(got - want); !(d <= tolerance(tc.k, tc.alpha, absDot, absBC)) {
				if bad++; bad <= 3 {
					t.Errorf("%v: C[%d][%d] = %v, want %v (error %.3g, tolerance %.3g)", tc, i, j, got, want, d, tolerance(tc.k, tc.alpha, absDot, absBC))
				}
			}
		}
	}
	for idx, v := range C.buf {
		if !C.inside(idx) && !math.IsNaN(float64(v)) {
			if bad++; bad <= 3 {
				t.Errorf("%v: canary at buffer index %d (C starts at %d, ldc %d) overwritten with %v", tc, idx, C.off, C.ld, v)
			}
		}
	}
	if bad > 0 {
		t.FailNow()
	}
}

// kernelsForTest lists the micro-kernels this CPU can run, each with the
// blocking it is used with.
func kernelsForTest() []*microKernel {
	ks := []*microKernel{kernelGeneric4x4}
	for _, k := range asmKernelsList {
		if strings.HasPrefix(k.name, "avx512") && !cpuid.CPU.Supports(cpuid.AVX512F) {
			continue
		}
		if !cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3) {
			continue
		}
		ks = append(ks, k)
	}
	return ks
}

// withSmallBlocks returns a copy of kern whose blocks are a few micro-tiles,
// so that small products cross every block boundary and edge, and which
// uses the small-M schedule always (smallM) or never (so the general and
// column-split schedules run).
func withSmallBlocks(kern *microKernel, smallM bool) *microKernel {
	k := *kern
	k.blk = blocking{kc: 24, mc: 2 * k.mr, nc: 3 * k.nr}
	if smallM {
		k.blk.smallA = 1 << 30
	}
	return &k
}

func sgemmUsing(kern *microKernel, threads int) func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	return func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		sgemmWith(kern, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}

// TestMicroKernels holds each micro-kernel to kernelGeneric, its
// specification, and to the float64 oracle, for depths 0..67 and a few
// long ones, with C inside a NaN-canaried buffer with an odd stride.
func TestMicroKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kern := range kernelsForTest() {
		t.Run(kern.name, func(t *testing.T) {
			mr, nr := kern.mr, kern.nr
			depths := []int{200, 511, 1000}
			for d := 0; d <= 67; d++ {
				depths = append(depths, d)
			}
			for _, k := range depths {
				for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, 0}} {
					alpha, beta := ab[0], ab[1]
					a := make([]float32, mr*k+1) // +1: &a[0] must exist when k == 0
					b := make([]float32, nr*k+1)
					for i := range a {
						a[i] = rng.Float32()*2 - 1
					}
					for i := range b {
						b[i] = rng.Float32()*2 - 1
					}
					ldc := nr + 1 + 2*rng.IntN(4) // odd
					off := 1 + rng.IntN(7)
					c := make([]float32, off+mr*ldc+3)
					for i := range c {
						c[i] = float32(math.NaN())
					}
					for i := 0; i < mr; i++ {
						for j := 0; j < nr; j++ {
							if beta != 0 {
								c[off+i*ldc+j] = rng.Float32()*2 - 1
							}
						}
					}
					want := append([]float32(nil), c...)
					c0 := append([]float32(nil), c...)
					kernelGeneric(mr, nr, k, a, b, want[off:], ldc, alpha, beta)
					kern.fn(k, &a[0], &b[0], &c[off], ldc, alpha, beta)
					for idx := range c {
						i, j := (idx-off)/ldc, (idx-off)%ldc
						if idx < off || i >= mr || j >= nr {
							if !math.IsNaN(float64(c[idx])) {
								t.Fatalf("k=%d: canary at %d overwritten with %v", k, idx, c[idx])
							}
							continue
						}
						var dot, absDot float64
						for p := 0; p < k; p++ {
							x := float64(a[p*mr+i]) * float64(b[p*nr+j])
							dot += x
							absDot += math.Abs(x)
						}
						ref := float64(alpha) * dot
						var absBC float64
						if beta != 0 {
							ref += float64(beta) * float64(c0[idx])
							absBC = math.Abs(float64(beta) * float64(c0[idx]))
						}
						tol := tolerance(k, alpha, absDot, absBC)
						if d := math.Abs(float64(c[idx]) - ref); !(d <= tol) {
							t.Fatalf("k=%d alpha=%g beta=%g: C[%d][%d] = %v, float64 oracle %v (tolerance %.3g)", k, alpha, beta, i, j, c[idx], ref, tol)
						}
						// Against the twin both errors add up.
						if d := math.Abs(float64(c[idx]) - float64(want[idx])); !(d <= 2*tol) {
							t.Fatalf("k=%d alpha=%g beta=%g: C[%d][%d] = %v, generic twin %v", k, alpha, beta, i, j, c[idx], want[idx])
						}
					}
				}
			}
		})
	}
}

// TestSgemmSweep sweeps each of m, n and k over 1..67 with the other two
// random, for every micro-kernel, with random transposes, odd leading
// dimensions, offsets of 1..7 floats, alpha and beta (beta = 0 with a
// NaN-filled C included) and canaries around and between the rows of C.
// Each kernel runs with its real blocking and with tiny blocks that make
// these shapes cross every block boundary, on one and several threads.
func TestSgemmSweep(t *testing.T) {
	for _, kern := range kernelsForTest() {
		for _, variant := range []string{"", "/smallblocks", "/smallblocks-smallM"} {
			kk := kern
			name := kern.name + variant
			if variant != "" {
				kk = withSmallBlocks(kern, variant == "/smallblocks-smallM")
			}
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(3, uint64(len(name))))
				for dim := 0; dim < 3; dim++ {
					for s := 1; s <= 67; s++ {
						sh := [3]int{1 + rng.IntN(40), 1 + rng.IntN(40), 1 + rng.IntN(40)}
						sh[dim] = s
						tc := randomCase(rng, sh[0], sh[1], sh[2])
						// Up to 4 parts, so that 2×2 splits run too (the
						// parts take turns when there are fewer processors).
						threads := 1 + rng.IntN(4)
						runCase(t, rng, tc, sgemmUsing(kk, threads))
					}
				}
			})
		}
	}
}

// TestSgemmBig checks products larger than one block of each kind with the
// real blocking, through the exported entry point on every path.
func TestSgemmBig(t *testing.T) {
	shapes := [][3]int{{700, 70, 300}, {30, 3000, 40}, {129, 131, 400}}
	if testing.Short() || raceEnabled {
		// The float64 oracle is slow under the race detector; the
		// concurrency is the same on the smaller shape.
		shapes = shapes[2:]
	}
	for _, kern := range kernelsForTest() {
		t.Run(kern.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			for _, sh := range shapes {
				for _, threads := range []int{1, 2, 4} {
					tc := randomCase(rng, sh[0], sh[1], sh[2])
					runCase(t, rng, tc, sgemmUsing(kern, threads))
				}
			}
		})
	}
}

// TestSgemmSharedA runs products that the cost model gives to the
// shared-A schedule (runSharedA: op(A) packed once by all threads, parts
// split by columns), with real and small blocks so that k and row blocks
// cross, on 2 to 4 threads, against the float64 oracle.
func TestSgemmSharedA(t *testing.T) {
	shapes := [][3]int{{100, 300, 80}, {50, 300, 130}, {30, 400, 160}, {61, 239, 77}}
	for _, kern := range kernelsForTest() {
		for _, small := range []bool{false, true} {
			kk, name := kern, kern.name
			if small {
				kk, name = withSmallBlocks(kern, false), name+"/smallblocks"
			}
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(9, uint64(len(name))))
				for _, sh := range shapes {
					m, n, k := sh[0], sh[1], sh[2]
					mTiles, nTiles := (m+kk.mr-1)/kk.mr, (n+kk.nr-1)/kk.nr
					for threads := 2; threads <= 4; threads++ {
						tm, tn := splitParts(threads, mTiles, nTiles, kk.mr, kk.nr, kk.blk.nc)
						if !sharedAFaster(threads, tm, tn, mTiles, nTiles, kk.mr, kk.nr, kk.blk.nc) || mTiles*kk.mr*k > maxSharedA {
							t.Fatalf("%dx%dx%d on %d threads does not take the shared-A schedule: the test covers nothing", m, n, k, threads)
						}
						if 2*float64(m)*float64(n)*float64(k) < minParallelFlops {
							t.Fatalf("%dx%dx%d runs on one thread", m, n, k)
						}
						if mTiles*kk.mr*k <= kk.blk.smallA && n >= 4*m {
							continue // the small-M schedule takes it
						}
						for range 2 {
							runCase(t, rng, randomCase(rng, m, n, k), sgemmUsing(kk, threads))
						}
					}
				}
			})
		}
	}
}

// TestSgemmSpecialCases covers the BLAS quick returns.
func TestSgemmSpecialCases(t *testing.T) {
	nan := float32(math.NaN())
	// k == 0: C = beta*C, and beta == 0 clears NaNs.
	c := []float32{1, 2, nan, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
	for i, v := range c {
		if v != 0 {
			t.Errorf("k=0 beta=0: c[%d] = %v, want 0", i, v)
		}
	}
	c = []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 3, c, 2)
	for i, v := range c {
		if v != 3*float32(i+1) {
			t.Errorf("k=0 beta=3: c[%d] = %v, want %v", i, v, 3*float32(i+1))
		}
	}
	// alpha == 0: A and B are not read, so their NaNs do not reach C.
	a := []float32{nan, nan, nan, nan}
	c = []float32{1, 2, 3, 4}
	Sgemm(false, true, 2, 2, 2, 0, a, 2, a, 2, 1, c, 2)
	for i, v := range c {
		if v != float32(i+1) {
			t.Errorf("alpha=0: c[%d] = %v, want %v", i, v, float32(i+1))
		}
	}
	// m == 0 or n == 0: nothing is touched, even C's NaNs.
	c = []float32{nan}
	Sgemm(false, false, 0, 1, 3, 1, nil, 3, []float32{1, 1, 1}, 1, 0, c, 1)
	if !math.IsNaN(float64(c[0])) {
		t.Errorf("m=0: C was written")
	}
}

// TestSgemmArgErrors checks that bad arguments panic with a message that
// names the argument.
func TestSgemmArgErrors(t *testing.T) {
	s := make([]float32, 100)
	cases := []struct {
		want string
		call func()
	}{
		{"m = -1", func() { Sgemm(false, false, -1, 2, 2, 1, s, 2, s, 2, 0, s, 2) }},
		{"k = -2", func() { Sgemm(false, false, 2, 2, -2, 1, s, 2, s, 2, 0, s, 2) }},
		{"lda = 2", func() { Sgemm(false, false, 3, 3, 3, 1, s, 2, s, 3, 0, s, 3) }},
		{"lda = 4", func() { Sgemm(true, false, 5, 3, 3, 1, s, 4, s, 3, 0, s, 3) }},
		{"ldb = 1", func() { Sgemm(false, false, 3, 3, 3, 1, s, 3, s, 1, 0, s, 3) }},
		{"ldc = 2", func() { Sgemm(false, false, 3, 3, 3, 1, s, 3, s, 3, 0, s, 2) }},
		{"len(a) = 8", func() { Sgemm(false, false, 3, 3, 3, 1, s[:8], 3, s, 3, 0, s, 3) }},
		{"len(b) = 5", func() { Sgemm(false, true, 3, 2, 3, 1, s, 3, s[:5], 3, 0, s, 2) }},
		{"len(c) = 8", func() { Sgemm(false, false, 3, 3, 3, 1, s, 3, s, 3, 0, s[:8], 3) }},
	}
	for _, tc := range cases {
		func() {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "kernels.Sgemm:") {
					t.Errorf("panic %q, want one containing %q", r, tc.want)
				}
			}()
			tc.call()
		}()
	}
}

// TestSgemmConcurrent calls Sgemm from several goroutines at once, on
// several threads each, and from inside parallel.For bodies (nested use of
// the pool), checking every result. Run under -race by CI.
func TestSgemmConcurrent(t *testing.T) {
	prev := parallel.SetThreads(3)
	defer parallel.SetThreads(prev)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for it := 0; it < 4; it++ {
				tc := randomCase(rng, 60+rng.IntN(80), 60+rng.IntN(80), 40+rng.IntN(300))
				runCase(t, rng, tc, Sgemm)
			}
		}()
	}
	wg.Wait()
	// Sgemm inside parallel.For bodies, each with its own output.
	const parts = 6
	outs := make([][]float32, parts)
	a := make([]float32, 120*130)
	b := make([]float32, 130*110)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range a {
		a[i] = rng.Float32()
	}
	for i := range b {
		b[i] = rng.Float32()
	}
	parallel.For(parts, 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			outs[p] = make([]float32, 120*110)
			Sgemm(false, false, 120, 110, 130, float32(p+1), a, 130, b, 110, 0, outs[p], 110)
		}
	})
	want := make([]float32, 120*110)
	sgemmWith(kernelGeneric4x4, 1, false, false, 120, 110, 130, 1, a, 130, b, 110, 0, want, 110)
	for p, out := range outs {
		for i, v := range out {
			w := float32(p+1) * want[i]
			if d := math.Abs(float64(v - w)); d > 133*eps32*float64(p+1)*130 {
				t.Fatalf("nested Sgemm %d: element %d = %v, want %v", p, i, v, w)
			}
		}
	}
}

// TestSgemmAllocs checks that steady-state calls allocate nothing, on one
// and on several threads.
func TestSgemmAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, sh := range [][3]int{{64, 64, 64}, {300, 260, 280}} {
		m, n, k := sh[0], sh[1], sh[2]
		a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		for _, threads := range []int{1, 2} {
			prev := parallel.SetThreads(threads)
			Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
			got := allocs.PerRun(20, func() {
				Sgemm(false, true, m, n, k, 1, a, k, b, k, 0.5, c, n)
			})
			parallel.SetThreads(prev)
			if got != 0 {
				t.Errorf("%dx%dx%d on %d threads: %v allocations per call, want 0", m, n, k, threads, got)
			}
		}
	}
}

// TestBlocking checks that the block sizes are whole micro-tiles and fit
// the caches they are meant for.
func TestBlocking(t *testing.T) {
	for _, kern := range append(kernelsForTest(), asmKernelsList...) {
		b := kern.blk
		if b.kc < 8 || b.mc%kern.mr != 0 || b.nc%kern.nr != 0 || b.mc < kern.mr || b.nc < kern.nr {
			t.Errorf("%s: blocking %+v not in whole micro-tiles of %dx%d", kern.name, b, kern.mr, kern.nr)
		}
		if b.kc > 64 && b.kc*kern.nr*4 > cacheL1D {
			t.Errorf("%s: a %dx%d B micro-panel does not fit L1 (%d bytes)", kern.name, b.kc, kern.nr, cacheL1D)
		}
	}
}

// FuzzSgemm compares the dispatched path (assembly where the CPU has it)
// with the pure-Go path, and both with the float64 oracle, on shapes,
// transposes, strides and offsets drawn from the fuzzer's bytes.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(5), uint8(7), uint8(9), uint8(0), uint8(1), uint64(1))
	f.Add(uint8(67), uint8(33), uint8(1), uint8(3), uint8(7), uint64(2))
	f.Add(uint8(14), uint8(32), uint8(200), uint8(2), uint8(0), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, flags, pads uint8, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, uint64(flags)))
		tc := randomCase(rng, int(m%100), int(n%100), int(k))
		tc.transA, tc.transB = flags&1 != 0, flags&2 != 0
		tc.padA, tc.padB, tc.padC = int(pads&3), int(pads>>2&3), int(pads>>4&3)
		tc.offA, tc.offB, tc.offC = int(pads>>6), int(flags>>2&7), int(flags>>5)
		asm := sgemmKernel()
		threads := 1 + int(flags>>7)
		// Same inputs through both paths (the rng is re-seeded for each).
		var outs [2][]float32
		for i, kern := range []*microKernel{asm, kernelGeneric4x4} {
			rng := rand.New(rand.NewPCG(seed, 11))
			runCase(t, rng, tc, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				sgemmWith(kern, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
				outs[i] = append([]float32(nil), c...)
			})
		}
		for i := range outs[0] {
			x, y := float64(outs[0][i]), float64(outs[1][i])
			if d := math.Abs(x - y); d > 2*tolerance(tc.k, 1, float64(tc.k)*2, 4) && !(math.IsNaN(x) && math.IsNaN(y)) {
				t.Fatalf("%v: element %d: %s %v, generic %v", tc, i, asm.name, x, y)
			}
		}
	})
}
