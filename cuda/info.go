package cuda

import "fmt"

// Info describes the GPU a `cuda` build found: what `vmdls info` reports.
type Info struct {
	Driver       int    // cuDriverGetVersion, e.g. 13000 for CUDA 13.0
	NVRTC        [2]int // NVRTC major, minor
	Name         string // device name
	TotalMem     int64  // bytes
	FreeMem      int64  // bytes free when the context was made
	CC           [2]int // compute capability major, minor
	Architecture string // the NVRTC target, e.g. "sm_90"
}

// String is the device report of `vmdls info`.
func (i Info) String() string {
	return fmt.Sprintf("gpu:      %s, compute capability %d.%d (%s), %.1f GiB (%.1f GiB free)\n"+
		"cuda:     driver %d.%d, NVRTC %d.%d\n",
		i.Name, i.CC[0], i.CC[1], i.Architecture, float64(i.TotalMem)/(1<<30), float64(i.FreeMem)/(1<<30),
		i.Driver/1000, i.Driver%1000/10, i.NVRTC[0], i.NVRTC[1])
}

// GemmResult is one `bench gemm --device cuda` measurement: square n×n
// SGEMMs through cuBLAS, timed with the device synchronized.
type GemmResult struct {
	N       int     `json:"n"`
	Reps    int     `json:"reps"`
	Seconds float64 `json:"seconds"` // one product, median run
	GFLOPS  float64 `json:"gflops"`  // 2n³ per product
	Device  string  `json:"device"`
}
