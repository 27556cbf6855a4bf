//go:build cuda

package cuda

import (
	"github.com/vmdls-go/vmdls/kernels"
	"github.com/vmdls-go/vmdls/tensor"
)

// The optimizers' fused updates have no GPU kernel yet. As the primitives
// of hostops.go, they run on the host: download the operands, apply the
// CPU's kernel (the reference rounding) and upload what it changed. A
// step then costs a round trip per parameter, which the GPU kernels of a
// later floor remove; until then training on the device is correct, not
// fast.

func (backend) SGDStep(p, g, buf tensor.Buf, o tensor.SGDOptions) {
	ph, bh := download(p), download(buf)
	kernels.SGDStep(ph, download(g), bh, o)
	upload(p, ph)
	upload(buf, bh)
}

func (backend) AdamStep(p, g, m, v, vmax tensor.Buf, o tensor.AdamOptions) {
	ph, mh, vh, xh := download(p), download(m), download(v), download(vmax)
	kernels.AdamStep(ph, download(g), mh, vh, xh, o)
	upload(p, ph)
	upload(m, mh)
	upload(v, vh)
	upload(vmax, xh)
}
