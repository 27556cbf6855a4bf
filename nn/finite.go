package nn

import (
	"fmt"
	"math"

	"github.com/vmdls-go/vmdls/tensor"
)

// CheckFinite reports the first parameter or buffer of m that holds a NaN
// or an infinity, naming its state_dict key and the position. A model that
// diverged, or a damaged checkpoint, otherwise goes on to produce NaN
// features whose failures (a covariance that is not positive definite, a
// NaN kept as the best model) name neither the cause nor the file.
func CheckFinite(m Module) error {
	for _, e := range StateDict(m) {
		if i, v, bad := firstNonFinite(e.Value); bad {
			return fmt.Errorf("%s %v holds %v at flat index %d: the weights are not finite (a diverged run or a damaged file)",
				e.Name, e.Value.Shape(), v, i)
		}
	}
	return nil
}

func firstNonFinite(t *tensor.Tensor) (int, float32, bool) {
	if t.Device() != tensor.CPU {
		t = t.To(tensor.CPU)
	}
	for i, v := range t.Data() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return i, v, true
		}
	}
	return 0, 0, false
}
