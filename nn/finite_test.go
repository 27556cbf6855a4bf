package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestCheckFinite(t *testing.T) {
	m := NewLinear(rand.New(rand.NewPCG(1, 2)), 3, 2, true)
	if err := CheckFinite(m); err != nil {
		t.Fatalf("fresh layer: %v", err)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		m.Bias.Value().Data()[1] = bad
		err := CheckFinite(m)
		if err == nil || !strings.Contains(err.Error(), "bias [2]") || !strings.Contains(err.Error(), "index 1") {
			t.Errorf("bias[1] = %v: got %v, want an error naming bias [2] at index 1", bad, err)
		}
		m.Bias.Value().Data()[1] = 0
	}
}
