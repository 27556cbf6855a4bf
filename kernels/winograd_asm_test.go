package kernels

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestWinogradAsmIsGenerated regenerates the transforms into a temporary
// file and checks that the committed winograd_amd64.s is exactly what
// winograd_asmgen.go writes, so that neither is edited alone.
func TestWinogradAsmIsGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Go toolchain")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out := filepath.Join(t.TempDir(), "winograd.s")
	if b, err := exec.Command(goBin, "run", "winograd_asmgen.go", out).CombinedOutput(); err != nil {
		t.Fatalf("go run winograd_asmgen.go: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("winograd_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("winograd_amd64.s is not what winograd_asmgen.go writes: run go generate ./kernels")
	}
}

// winoAsmPaths are the paths with assembly transforms this CPU can run.
func winoAsmPaths(t *testing.T) []string {
	var paths []string
	for _, p := range []string{"avx2", "avx512"} {
		prev, err := SetPath(p)
		if err == nil {
			paths = append(paths, p)
			SetPath(prev)
		}
	}
	if len(paths) == 0 {
		t.Skip("no assembly path on this CPU")
	}
	return paths
}

// withKernelPath runs f on kernel path p, restoring the previous after.
func withKernelPath(t *testing.T, p string, f func()) {
	t.Helper()
	prev, err := SetPath(p)
	if err != nil {
		t.Fatal(err)
	}
	defer SetPath(prev)
	f()
}

type winoTransforms struct {
	m               int
	in, inGeneric   func(v []float32, vs int, x []float32, offs []int32, ldx int)
	out, outGeneric func(y []float32, ldy int, offs []int32, mm []float32, ms int, bias float32, relu bool)
}

var winoAsmTransforms = []winoTransforms{
	{2, winoIn2, winoIn2Generic, winoOut2, winoOut2Generic},
	{4, winoIn4, winoIn4Generic, winoOut4, winoOut4Generic},
}

// sameBits reports whether a and b hold the same float32 values bit for bit
// (NaNs of any payload count as equal).
func sameBits(a, b []float32) (int, bool) {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return i, false
		}
	}
	return 0, true
}

// The assembly transforms follow their Go twins operation for operation,
// so they agree bit for bit (the products they fuse are exact), on every
// lane count, through arbitrary lane offsets, and write nothing else.
func TestWinogradTransformsAsmMatchGo(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 2))
	for _, path := range winoAsmPaths(t) {
		withKernelPath(t, path, func() {
			lanes := winoLanes()
			for _, tr := range winoAsmTransforms {
				alpha := tr.m + 2
				a2 := alpha * alpha
				for _, n := range []int{lanes, 2 * lanes, 3 * lanes, 4 * lanes} {
					// Input: tiles at random places of a random plane
					// (with a few special values), rows ldx apart.
					ldx := alpha + r.IntN(40)
					x := randSlice(r, ldx*(alpha+20))
					x[r.IntN(len(x))] = float32(math.Inf(1))
					x[r.IntN(len(x))] = float32(math.Copysign(0, -1))
					offs := make([]int32, n)
					for j := range offs {
						offs[j] = int32(r.IntN(len(x) - (alpha-1)*ldx - (alpha - 1)))
					}
					vs := n + r.IntN(50)
					got, want := make([]float32, a2*vs), make([]float32, a2*vs)
					for i := range got {
						got[i] = float32(i)
						want[i] = float32(i)
					}
					if !winoInAsm(alpha, got, vs, x, offs, ldx) {
						t.Fatalf("%s F%d input, %d lanes: the assembly's contract does not hold", path, tr.m, n)
					}
					tr.in(got, vs, x, offs, ldx)
					tr.inGeneric(want, vs, x, offs, ldx)
					if i, ok := sameBits(got, want); !ok {
						t.Errorf("%s F%d input, %d lanes: v[%d] = %v, Go twin %v", path, tr.m, n, i, got[i], want[i])
					}
				}
				for n := 1; n <= 3*lanes+1; n++ {
					for _, relu := range []bool{false, true} {
						ms := (n+lanes-1)/lanes*lanes + r.IntN(30)
						mm := randSlice(r, (a2-1)*ms+(n+lanes-1)/lanes*lanes)
						mm[r.IntN(len(mm))] = float32(math.NaN())
						ldy := tr.m + r.IntN(30)
						// Tiles that do not overlap: lane j at row block j.
						offs := make([]int32, n)
						perm := r.Perm(n)
						for j := range offs {
							offs[j] = int32(perm[j]*tr.m*ldy + r.IntN(ldy-tr.m+1))
						}
						ylen := n * tr.m * ldy
						got, want := make([]float32, ylen), make([]float32, ylen)
						for i := range got {
							got[i] = float32(-i)
							want[i] = float32(-i)
						}
						bias := float32(r.NormFloat64())
						if !winoOutAsm(tr.m, got, ldy, offs, mm, ms) {
							t.Fatalf("%s F%d output, %d lanes: the assembly's contract does not hold", path, tr.m, n)
						}
						tr.out(got, ldy, offs, mm, ms, bias, relu)
						tr.outGeneric(want, ldy, offs, mm, ms, bias, relu)
						if i, ok := sameBits(got, want); !ok {
							t.Errorf("%s F%d output, %d lanes, relu %v: y[%d] = %v, Go twin %v", path, tr.m, n, relu, i, got[i], want[i])
						}
					}
				}
			}
		})
	}
}

// The wrappers fall back to the Go twins where the assembly's contract
// does not hold (a lane count that is not whole registers, a tile that
// reaches past the slice), and the results are the same.
func TestWinogradTransformsAsmFallback(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 3))
	for _, path := range winoAsmPaths(t) {
		withKernelPath(t, path, func() {
			tr := winoAsmTransforms[1]
			ldx := 9
			x := randSlice(r, ldx*6)
			offs := []int32{0, 1, 2} // not whole registers
			got, want := make([]float32, 36*3), make([]float32, 36*3)
			tr.in(got, 3, x, offs, ldx)
			tr.inGeneric(want, 3, x, offs, ldx)
			if i, ok := sameBits(got, want); !ok {
				t.Errorf("%s: fallback input differs at %d", path, i)
			}
			if winoInAsm(6, got, 3, x, offs, ldx) {
				t.Errorf("%s: the assembly accepted 3 lanes", path)
			}
			l := winoLanes()
			offs = make([]int32, l)
			offs[l-1] = 4 // the last tile would read past x
			if winoInAsm(6, make([]float32, 36*l), l, x, offs, ldx) {
				t.Errorf("%s: the assembly accepted a tile past the input", path)
			}
		})
	}
}
