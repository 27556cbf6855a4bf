//go:build cuda

package backbone

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/cuda"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// gpuStepTol is issue 17's bound for a training step on the GPU against the
// CPU from the same weights and batch: loss, gradients and updated weights
// within 1e-4 of the CPU's, relative to each tensor's largest magnitude
// (summation orders differ, so single elements near zero can differ more
// in relative terms).
const gpuStepTol = 1e-4

// normDiff is max|a-b| / max|b| over two tensors of one shape.
func normDiff(a, b *tensor.Tensor) float64 {
	ad, bd := a.To(tensor.CPU).Data(), b.To(tensor.CPU).Data()
	var d, s float64
	for i := range bd {
		d = max(d, math.Abs(float64(ad[i])-float64(bd[i])))
		s = max(s, math.Abs(float64(bd[i])))
	}
	if s == 0 {
		return d
	}
	return d / s
}

// TestGPUTrainStepMatchesCPU runs one training step of each published
// encoder with its latent heads (forward in training mode, a loss on mu and
// logvar, backward, an SGD step with momentum and weight decay) on the GPU
// and on the CPU from the same weights and batch, and compares the loss,
// every gradient, every updated weight and the batch-norm buffers. It also
// counts the host copies of the GPU step: the batch goes up, one loss value
// comes down, nothing else (wresnet's dropout masks are made on the GPU).
func TestGPUTrainStepMatchesCPU(t *testing.T) {
	if _, err := cuda.Init(); err != nil {
		t.Skipf("no GPU: %v", err)
	}
	for _, enc := range publishedEncoders {
		t.Run(enc, func(t *testing.T) {
			info, _ := LookupEncoder(enc)
			x := tensor.Randn(rand.New(rand.NewPCG(3, 4)), append([]int{8}, info.InputShape()...)...)
			step := func(dev tensor.Device) (*Model, float32, cuda.TransferStats) {
				m, err := NewModel(enc, 16, rand.New(rand.NewPCG(1, 2)))
				if err != nil {
					t.Fatal(err)
				}
				opt, err := nn.NewSGD(nn.Parameters(m), nn.SGDOptions{LR: 0.05, Momentum: 0.9, WeightDecay: 5e-4})
				if err != nil {
					t.Fatal(err)
				}
				nn.ToDevice(m, dev, opt)
				reseed(m)
				before := cuda.Transfers()
				mu, lv := m.Encode(autograd.Const(x.To(dev)))
				loss := autograd.Add(autograd.Mean(autograd.Square(mu), false), autograd.Mean(lv, false))
				if err := loss.Backward(); err != nil {
					t.Fatal(err)
				}
				opt.Step()
				l := loss.Value().Item()
				return m, l, cuda.Transfers().Sub(before)
			}
			cm, cl, _ := step(tensor.CPU)
			gm, gl, tr := step(cuda.Device)
			if d := math.Abs(float64(gl-cl)) / math.Max(math.Abs(float64(cl)), 1e-30); !(d <= gpuStepTol) {
				t.Errorf("loss %v on the GPU, %v on the CPU (relative %.2g)", gl, cl, d)
			}
			worst, worstName := 0.0, ""
			cs, gs := nn.NamedParameters(cm), nn.NamedParameters(gm)
			for i := range cs {
				if gs[i].Value.Value().Device() != cuda.Device {
					t.Fatalf("%s left the GPU", gs[i].Name)
				}
				if (cs[i].Value.Grad() == nil) != (gs[i].Value.Grad() == nil) {
					t.Fatalf("%s: a gradient on one device only", cs[i].Name)
				}
				if cs[i].Value.Grad() != nil {
					if d := normDiff(gs[i].Value.Grad(), cs[i].Value.Grad()); !(d <= gpuStepTol) {
						t.Errorf("gradient of %s: relative difference %.2g", cs[i].Name, d)
					} else if d > worst {
						worst, worstName = d, cs[i].Name+" (gradient)"
					}
				}
				if d := normDiff(gs[i].Value.Value(), cs[i].Value.Value()); !(d <= gpuStepTol) {
					t.Errorf("updated %s: relative difference %.2g", cs[i].Name, d)
				}
			}
			cb, gb := nn.NamedBuffers(cm), nn.NamedBuffers(gm)
			for i := range cb {
				if d := normDiff(gb[i].Value, cb[i].Value); !(d <= gpuStepTol) {
					t.Errorf("buffer %s: relative difference %.2g", cb[i].Name, d)
				}
			}
			if tr.Downloads != 1 || tr.BytesDown != 4 {
				t.Errorf("the step downloaded %d times, %d bytes; want only the loss", tr.Downloads, tr.BytesDown)
			}
			if tr.Uploads != 1 || tr.BytesUp != int64(x.Numel())*4 {
				t.Errorf("the step uploaded %d times, %d bytes; want only the batch's %d", tr.Uploads, tr.BytesUp, x.Numel()*4)
			}
			t.Logf("%s: loss %v (CPU %v), worst gradient %s %.2g, host copies: %d up (%d bytes), %d down (%d bytes)",
				enc, gl, cl, worstName, worst, tr.Uploads, tr.BytesUp, tr.Downloads, tr.BytesDown)
		})
	}
}
