package kernels

import (
	"math"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// The accuracy tests sweep float32 bit patterns and compare Exp and Log
// with float64 math.Exp and math.Log. The whole domain is about 2.2e9
// patterns per function, which takes minutes (math.Exp dominates), so by
// default the sweep takes every 61st pattern over the whole domain plus
// every pattern of the binades where the reduction is delicate (for exp,
// |x| in [1/4, 1/2), around the n = 0 / ±1 boundary ±ln2/2, and [2^-7, 2^-6);
// for log, [1/2, 2) around 1, and all subnormal inputs). Setting
// VMDLS_EXHAUSTIVE=1 sweeps every pattern. Both paths are checked: the
// assembly (when the CPU has AVX2+FMA) and the pure-Go twin.

// accStride is the default stride of the whole-domain sweep.
func accStride() uint32 {
	if os.Getenv("VMDLS_EXHAUSTIVE") == "1" {
		return 1
	}
	if raceEnabled { // the instrumented Go loops are many times slower
		return 997
	}
	return 61
}

// accStats gathers the worst relative error seen and the first violation.
type accStats struct {
	maxRel   float64
	worstX   float32
	checked  int
	failures int
	firstBad string
}

func (s *accStats) merge(o *accStats) {
	if o.maxRel > s.maxRel {
		s.maxRel, s.worstX = o.maxRel, o.worstX
	}
	s.checked += o.checked
	if s.failures == 0 && o.failures > 0 {
		s.firstBad = o.firstBad
	}
	s.failures += o.failures
}

// accCheck judges one result: rel is its relative error (or -1 where no
// relative bound applies) and ok whether it meets the kernel's contract.
type accCheck func(x, got float32, ref float64) (rel float64, ok bool)

const accBound = 3e-7

func expCheck(x, got float32, ref float64) (float64, bool) {
	g := float64(got)
	switch {
	case x != x:
		return -1, got != got
	case ref >= math.MaxFloat32*(1+0x1p-24): // rounds to +Inf
		return -1, math.IsInf(g, 1)
	case ref > math.MaxFloat32:
		return -1, got == math.MaxFloat32 || math.IsInf(g, 1)
	case ref < 0x1p-126:
		// Subnormal or zero: rounded once from a value accurate to 3e-7
		// of at most 2^-126, i.e. 0.5 + 0.6 ulps of 2^-149.
		return -1, math.Abs(g-ref) <= 1.2*0x1p-149
	}
	rel := math.Abs(g-ref) / ref
	return rel, rel <= accBound
}

func logCheck(x, got float32, ref float64) (float64, bool) {
	g := float64(got)
	switch {
	case x != x || x < 0:
		return -1, got != got
	case x == 0:
		return -1, math.IsInf(g, -1)
	case math.IsInf(float64(x), 1):
		return -1, math.IsInf(g, 1)
	case ref == 0:
		return -1, got == 0
	}
	rel := math.Abs(g-ref) / math.Abs(ref)
	return rel, rel <= accBound
}

// accSweep checks f on the bit patterns lo, lo+stride, ... < hi, split over
// all CPUs, and returns one accStats per path in fs.
func accSweep(lo, hi, stride uint32, fs []func(dst, x []float32), ref func(float64) float64, check accCheck) []accStats {
	workers := runtime.GOMAXPROCS(0)
	count := (uint64(hi-lo) + uint64(stride) - 1) / uint64(stride)
	per := (count + uint64(workers) - 1) / uint64(workers)
	results := make([][]accStats, workers)
	var wg sync.WaitGroup
	for w := range workers {
		first := uint64(w) * per
		last := min(first+per, count)
		results[w] = make([]accStats, len(fs))
		if first >= last {
			continue
		}
		wg.Add(1)
		go func(first, last uint64, st []accStats) {
			defer wg.Done()
			const chunk = 4096
			x := make([]float32, chunk)
			got := make([][]float32, len(fs))
			for i := range got {
				got[i] = make([]float32, chunk)
			}
			for k := first; k < last; k += chunk {
				n := int(min(chunk, last-k))
				for i := range n {
					x[i] = math.Float32frombits(lo + uint32((k+uint64(i))*uint64(stride)))
				}
				for p, f := range fs {
					f(got[p][:n], x[:n])
				}
				for i := range n {
					r := ref(float64(x[i]))
					for p := range fs {
						rel, ok := check(x[i], got[p][i], r)
						s := &st[p]
						s.checked++
						if rel > s.maxRel {
							s.maxRel, s.worstX = rel, x[i]
						}
						if !ok {
							if s.failures == 0 {
								s.firstBad = fmtBad(x[i], got[p][i], r)
							}
							s.failures++
						}
					}
				}
			}
		}(first, last, results[w])
	}
	wg.Wait()
	total := make([]accStats, len(fs))
	for _, r := range results {
		for p := range total {
			total[p].merge(&r[p])
		}
	}
	return total
}

func fmtBad(x, got float32, ref float64) string {
	return "x=" + ftoa(float64(x)) + " (" + hex32(x) + ") got " + ftoa(float64(got)) + " (" + hex32(got) + ") want " + ftoa(ref)
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

type accRange struct {
	name           string
	lo, hi, stride uint32
}

func runAccuracy(t *testing.T, name string, ranges []accRange, asm, gen func(dst, x []float32), ref func(float64) float64, check accCheck) {
	fs := []func(dst, x []float32){gen}
	names := []string{"generic"}
	if ewAsmOK {
		fs = append(fs, asm)
		names = append(names, "asm")
	}
	for _, r := range ranges {
		st := accSweep(r.lo, r.hi, r.stride, fs, ref, check)
		for p := range st {
			t.Logf("%s %s %s (stride %d): %d values, max rel error %.3g at x=%v", name, names[p], r.name, r.stride, st[p].checked, st[p].maxRel, st[p].worstX)
			if st[p].failures > 0 {
				t.Errorf("%s %s %s: %d values out of bounds, first: %s", name, names[p], r.name, st[p].failures, st[p].firstBad)
			}
		}
	}
}

// TestExpAccuracy sweeps exp over [-105, 89.5], beyond both ends of the
// range where its result is finite and nonzero.
func TestExpAccuracy(t *testing.T) {
	s := accStride()
	b := math.Float32bits
	ranges := []accRange{
		{"x in [0, 89.5]", 0, b(89.5) + 1, s},
		{"x in [-105, -0]", b(float32(math.Copysign(0, -1))), b(-105) + 1, s},
	}
	if s > 1 {
		ranges = append(ranges,
			accRange{"x in [1/4, 1/2)", b(0.25), b(0.5), 1},
			accRange{"x in (-1/2, -1/4]", b(-0.25), b(-0.5), 1},
			accRange{"x in [2^-7, 2^-6)", b(0x1p-7), b(0x1p-6), 1},
			accRange{"x in (-2^-6, -2^-7]", b(-0x1p-7), b(-0x1p-6), 1})
	}
	runAccuracy(t, "exp", ranges, expAVX2, expGeneric, math.Exp, expCheck)
}

// TestLogAccuracy sweeps log over every positive float32, subnormals and
// +Inf included.
func TestLogAccuracy(t *testing.T) {
	s := accStride()
	b := math.Float32bits
	ranges := []accRange{{"x in (0, +Inf]", 1, b(float32(math.Inf(1))) + 1, s}}
	if s > 1 {
		ranges = append(ranges,
			accRange{"x in [1/2, 2)", b(0.5), b(2), 1},
			accRange{"x subnormal", 1, b(0x1p-126), 1})
	}
	runAccuracy(t, "log", ranges, logAVX2, logGeneric, math.Log, logCheck)
}

func hex32(v float32) string { return "0x" + strconv.FormatUint(uint64(math.Float32bits(v)), 16) }
