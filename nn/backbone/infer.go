package backbone

import (
	"fmt"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// DefaultInferChunk is the chunk size of InferChunked when given 0. Peak
// RSS measured with BenchmarkInferChunk at the reference's batch of 2,500
// (weights and input included): densenet 312 MiB at chunk 32, 873 at 128,
// 2,661 at 512 and 11,785 in one pass; wresnet 683 MiB at 32, 1,158 at
// 128. Memory grows with the chunk, while a CIFAR convolution's GEMM has
// 1,024·chunk columns, wide enough at any of these sizes (throughput was
// not measured cleanly: the machine was shared), so 128 keeps the widest
// net near a gigabyte.
const DefaultInferChunk = 128

// Features is what one inference pass yields for a batch: the encoder
// output h, its three pooled taps and, when a head was given, mu.
type Features struct {
	H    *tensor.Tensor    // [N, OutDim()]
	Taps [3]*tensor.Tensor // [N, TapDims()[i]]
	Mu   *tensor.Tensor    // [N, latent]; nil without a head
}

// Ensemble returns the feature ensemble of METHOD.md section 6, the taps and
// h side by side: [N, tap1+tap2+tap3+OutDim()].
func (f Features) Ensemble() *tensor.Tensor {
	return tensor.Concat(1, f.Taps[0], f.Taps[1], f.Taps[2], f.H)
}

// trainingModule is the part of nn.Module InferChunked inspects.
type trainingModule interface{ Training() bool }

// InferChunked runs enc, and head on its output when head is not nil, over
// x [N, ...] in chunks of at most chunk images (DefaultInferChunk when chunk
// is 0) with no graph recorded, so that memory is bounded by one chunk's
// activations however large N is (the reference evaluates 2,500 images at a
// time). The results are copied into tensors for the whole batch, on the
// encoder's device (nn.ModuleDevice, when enc is a module); x may be on the
// host, and each chunk is then moved there.
//
// The modules must be in eval mode: in train mode batch norm would
// normalize each chunk by its own statistics, which differ from those of the
// whole batch, and that is an error here.
func InferChunked(enc Tapped, head *nn.Linear, x *tensor.Tensor, chunk int) (Features, error) {
	if chunk == 0 {
		chunk = DefaultInferChunk
	}
	if chunk < 0 {
		return Features{}, fmt.Errorf("backbone.InferChunked: chunk size %d", chunk)
	}
	if m, ok := enc.(trainingModule); ok && m.Training() {
		return Features{}, fmt.Errorf("backbone.InferChunked: the encoder is in train mode; chunked batch statistics would differ from the batch's (call nn.SetTraining(enc, false))")
	}
	if x.Dim() < 1 {
		return Features{}, fmt.Errorf("backbone.InferChunked: input shape %v has no batch axis", x.Shape())
	}
	n := x.Size(0)
	td := enc.TapDims()
	dev := x.Device()
	if m, ok := enc.(nn.Module); ok {
		dev = nn.ModuleDevice(m)
	}
	f := Features{H: tensor.ZerosOn(dev, n, enc.OutDim())}
	for i := range f.Taps {
		f.Taps[i] = tensor.ZerosOn(dev, n, td[i])
	}
	if head != nil {
		f.Mu = tensor.ZerosOn(dev, n, head.Out)
	}
	autograd.NoGrad(func() {
		for lo := 0; lo < n; lo += chunk {
			hi := min(lo+chunk, n)
			// A host batch goes to the model's device a chunk at a time, so
			// the device holds one chunk of input, not the whole batch.
			xc := x.Slice(lo, hi)
			if xc.Device() != dev {
				xc = xc.To(dev)
			}
			h, taps := enc.ForwardTaps(autograd.Const(xc))
			copyRows(f.H, lo, h.Value())
			for i, tp := range taps {
				copyRows(f.Taps[i], lo, tp.Value())
			}
			if head != nil {
				copyRows(f.Mu, lo, head.Forward(h).Value())
			}
		}
	})
	return f, nil
}

// copyRows writes src [rows, C] into dst [N, C] from row lo on, on their
// device (a backend copy into a view of dst: no host round trip).
func copyRows(dst *tensor.Tensor, lo int, src *tensor.Tensor) {
	dst.Slice(lo, lo+src.Size(0)).CopyFrom(src)
}

// InferChunked is the package function for the model's encoder and its mu
// head (z = mu at evaluation time), in chunks of chunk images (0: the
// default). The model must be in eval mode. An encoder without taps (mnist,
// cifar) yields h and mu with nil Taps: training's validation needs mu
// alone.
func (m *Model) InferChunked(x *tensor.Tensor, chunk int) (Features, error) {
	enc, ok := m.Enc.(Tapped)
	if !ok {
		enc = untapped{m.Enc, m.EncOutDim}
	}
	f, err := InferChunked(enc, m.Mu, x, chunk)
	if !ok {
		f.Taps = [3]*tensor.Tensor{}
	}
	return f, err
}

// untapped runs an encoder without taps through InferChunked, with three
// empty taps.
type untapped struct {
	nn.Module
	outDim int
}

func (u untapped) ForwardTaps(x *autograd.Var) (*autograd.Var, [3]*autograd.Var) {
	h := u.Forward(x)
	empty := autograd.Const(tensor.ZerosOn(h.Value().Device(), h.Shape()[0], 0))
	return h, [3]*autograd.Var{empty, empty, empty}
}

func (u untapped) OutDim() int     { return u.outDim }
func (u untapped) TapDims() [3]int { return [3]int{} }
