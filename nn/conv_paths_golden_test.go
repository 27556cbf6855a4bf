package nn

import (
	"testing"

	"github.com/vmdls-go/vmdls/kernels"
)

// TestGoldensWithConvPathForced reruns the PyTorch goldens that involve
// convolutions with each convolution algorithm forced (kernels.SetConvPath,
// as VMDLS_CONV does), at the goldens' own tolerances: im2col everywhere,
// and Winograd F(2×2) and F(4×4) for every 3×3 stride-1 layer and its
// input gradient however small. The default ("auto") runs are the tests
// themselves.
func TestGoldensWithConvPathForced(t *testing.T) {
	for _, path := range []string{"im2col", "winograd", "winograd4"} {
		t.Run(path, func(t *testing.T) {
			prev, err := kernels.SetConvPath(path)
			if err != nil {
				t.Fatal(err)
			}
			defer kernels.SetConvPath(prev)
			t.Run("layers", TestLayersMatchPyTorch)
			t.Run("smallnet", TestSmallNetMatchesPyTorch)
			t.Run("trainsteps", TestTrainStepsMatchPyTorch)
		})
	}
}
