package kernels

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/klauspost/cpuid/v2"
	"github.com/vmdls-go/vmdls/parallel"
)

// EnvKernels names the environment variable that overrides kernel dispatch.
// "generic" forces the pure-Go kernels; "avx2" keeps the AVX2+FMA kernels
// but not the AVX-512 ones (to compare paths, or to mimic a Zen 3).
const EnvKernels = "VMDLS_KERNELS"

// useAVX2 reports whether the AVX2+FMA assembly kernels are in use. It is
// set once at start-up and only changed by tests through setPath.
var useAVX2 = detectAVX2()

// useAVX512 reports whether the AVX-512 kernels (today the SGEMM
// micro-kernel) are in use. It implies useAVX2.
var useAVX512 = detectAVX512()

func detectAVX512() bool {
	if !useAVX2 || strings.EqualFold(strings.TrimSpace(os.Getenv(EnvKernels)), "avx2") {
		return false
	}
	// cpuid reports AVX-512 only when the OS also saves the zmm state.
	return cpuid.CPU.Supports(cpuid.AVX512F)
}

func detectAVX2() bool {
	if !assemblyBuilt {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(os.Getenv(EnvKernels)), "generic") {
		return false
	}
	return cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)
}

// Path names the kernel path in use: "avx512" (AVX-512 SGEMM, AVX2+FMA
// elsewhere), "avx2-fma" or "generic".
func Path() string {
	switch {
	case useAVX512:
		return "avx512"
	case useAVX2:
		return "avx2-fma"
	}
	return "generic"
}

// SetPath forces the kernel path, for benchmarks and tests that compare
// paths: "auto" (what start-up detection chose, honouring EnvKernels),
// "avx512", "avx2" or "avx2-fma", or "generic". It returns the previous
// Path and fails, changing nothing, for an unknown name or a path this CPU
// lacks. It is not safe to call while kernels run on other goroutines.
func SetPath(name string) (prev string, err error) {
	prev = Path()
	has2 := assemblyBuilt && cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)
	has512 := has2 && cpuid.CPU.Supports(cpuid.AVX512F)
	switch strings.ToLower(name) {
	case "auto":
		useAVX2, useAVX512 = detectAVX2(), false
		useAVX512 = detectAVX512()
	case "avx512":
		if !has512 {
			return prev, fmt.Errorf("kernels: path %q: this CPU lacks AVX-512F", name)
		}
		useAVX2, useAVX512 = true, true
	case "avx2", "avx2-fma":
		if !has2 {
			return prev, fmt.Errorf("kernels: path %q: this CPU lacks AVX2+FMA", name)
		}
		useAVX2, useAVX512 = true, false
	case "generic":
		useAVX2, useAVX512 = false, false
	default:
		return prev, fmt.Errorf("kernels: unknown path %q (want auto, avx512, avx2 or generic)", name)
	}
	return prev, nil
}

// CPUInfo describes the processor the kernels run on, as read by cpuid.
// Its JSON keys are snake_case, the style of every file vmdls writes.
type CPUInfo struct {
	Brand      string   `json:"brand"`       // the processor's brand string
	CPUs       int      `json:"cpus"`        // logical CPUs this process may run on (runtime.NumCPU)
	Threads    int      `json:"threads"`     // workers the parallel kernels use (parallel.Threads())
	Features   []string `json:"features"`    // SIMD features relevant to the kernels that the CPU has
	L1DBytes   int      `json:"l1d_bytes"`   // L1 data cache per core, bytes (-1 if unknown)
	L2Bytes    int      `json:"l2_bytes"`    // L2 cache per core, bytes (-1 if unknown)
	L3Bytes    int      `json:"l3_bytes"`    // L3 cache in total, bytes (-1 if unknown)
	KernelPath string   `json:"kernel_path"` // the path Path reports
}

// Info returns what cpuid found about this CPU and the kernel path chosen.
func Info() CPUInfo {
	var feats []string
	for _, f := range []struct {
		id   cpuid.FeatureID
		name string
	}{
		{cpuid.SSE2, "sse2"}, {cpuid.SSE4, "sse4.1"}, {cpuid.AVX, "avx"}, {cpuid.AVX2, "avx2"},
		{cpuid.FMA3, "fma"}, {cpuid.AVX512F, "avx512f"}, {cpuid.AVX512BW, "avx512bw"},
		{cpuid.AVX512VL, "avx512vl"}, {cpuid.ASIMD, "asimd"},
	} {
		if cpuid.CPU.Supports(f.id) {
			feats = append(feats, f.name)
		}
	}
	return CPUInfo{
		Brand: cpuid.CPU.BrandName,
		// Not cpuid's core count: under a hypervisor it reports the host's.
		CPUs:       runtime.NumCPU(),
		Threads:    parallel.Threads(),
		Features:   feats,
		L1DBytes:   cpuid.CPU.Cache.L1D,
		L2Bytes:    cpuid.CPU.Cache.L2,
		L3Bytes:    cpuid.CPU.Cache.L3,
		KernelPath: Path(),
	}
}
