package nn

import (
	"fmt"

	"github.com/vmdls-go/vmdls/autograd"
)

// Upsample is torch.nn.Upsample with mode "nearest": either to a fixed
// output size (OutH, OutW) or by scale factors (ScaleH, ScaleW), the other
// pair being zero.
type Upsample struct {
	Base
	OutH, OutW     int
	ScaleH, ScaleW float64
}

// NewUpsampleScale makes a nearest-neighbour upsampling by factor in both
// directions (output floor(H*factor) × floor(W*factor)).
func NewUpsampleScale(factor float64) *Upsample {
	if !(factor > 0) {
		panic(fmt.Sprintf("nn.NewUpsampleScale: scale factor %v", factor))
	}
	return &Upsample{ScaleH: factor, ScaleW: factor}
}

// NewUpsampleSize makes a nearest-neighbour resize to outH×outW.
func NewUpsampleSize(outH, outW int) *Upsample {
	if outH < 1 || outW < 1 {
		panic(fmt.Sprintf("nn.NewUpsampleSize: size %dx%d", outH, outW))
	}
	return &Upsample{OutH: outH, OutW: outW}
}

// Forward resizes x [N, C, H, W].
func (u *Upsample) Forward(x *autograd.Var) *autograd.Var {
	return autograd.UpsampleNearest2d(x, u.OutH, u.OutW, u.ScaleH, u.ScaleW)
}
