package tensor

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/vmdls-go/vmdls/kernels"
)

// Device names where a tensor's storage lives. CPU is always present; other
// devices exist once a backend for them has been registered.
type Device int

// CPU is the host: storage is a Go []float32 and the kernels package computes.
const CPU Device = 0

// String returns "cpu" for the host and the registered backend's name for
// other devices, so error messages read the same as the user's device flags.
func (d Device) String() string {
	if d == CPU {
		return "cpu"
	}
	if b := lookupBackend(d); b != nil {
		return b.Name()
	}
	return fmt.Sprintf("device(%d)", int(d))
}

// Storage is a device's flat float32 buffer. Only the backend that allocated
// it looks inside (by type assertion to its own concrete type); the op code
// carries it around opaquely, which is what keeps the ops device-agnostic.
type Storage interface {
	// Len is the number of float32 elements the storage holds.
	Len() int
}

// Buf names the contiguous run of N elements starting at element Off of S.
// Every tensor is such a run (views differ from their base only in Off and
// N), so primitives never need more than this plus explicit strides.
type Buf struct {
	S      Storage
	Off, N int
}

// UnaryOp selects the elementwise map Backend.Unary applies; the codes and
// their semantics are package kernels' (kernels.UnaryOp), so that the CPU
// backend and every other device implement the same maps.
type UnaryOp = kernels.UnaryOp

// BinaryOp selects the elementwise function Backend.Binary applies
// (kernels.BinaryOp).
type BinaryOp = kernels.BinaryOp

// ReduceOp selects what Backend.Reduce computes along the reduced axis
// (kernels.ReduceOp).
type ReduceOp = kernels.ReduceOp

// The unary maps, as kernels defines them.
const (
	UNeg       = kernels.UNeg
	UExp       = kernels.UExp
	ULog       = kernels.ULog
	USqrt      = kernels.USqrt
	UAbs       = kernels.UAbs
	URelu      = kernels.URelu
	USigmoid   = kernels.USigmoid
	UTanh      = kernels.UTanh
	USquare    = kernels.USquare
	UAddScalar = kernels.UAddScalar
	UMulScalar = kernels.UMulScalar
	UDivScalar = kernels.UDivScalar
	UPowScalar = kernels.UPowScalar
	UClamp     = kernels.UClamp
	UGtScalar  = kernels.UGtScalar
	UGeScalar  = kernels.UGeScalar
	ULtScalar  = kernels.ULtScalar
	ULeScalar  = kernels.ULeScalar
	UEqScalar  = kernels.UEqScalar
	UNeScalar  = kernels.UNeScalar
)

// The binary functions, as kernels defines them.
const (
	BAdd          = kernels.BAdd
	BSub          = kernels.BSub
	BMul          = kernels.BMul
	BDiv          = kernels.BDiv
	BPow          = kernels.BPow
	BMaximum      = kernels.BMaximum
	BMinimum      = kernels.BMinimum
	BGt           = kernels.BGt
	BGe           = kernels.BGe
	BLt           = kernels.BLt
	BLe           = kernels.BLe
	BEq           = kernels.BEq
	BNe           = kernels.BNe
	BReluBackward = kernels.BReluBackward
)

// The reductions, as kernels defines them.
const (
	RSum       = kernels.RSum
	RMax       = kernels.RMax
	RMin       = kernels.RMin
	RLogSumExp = kernels.RLogSumExp
)

// uninitAllocator is the optional fast path of a Backend that can hand out
// storage without clearing it (the CPU's, from its cache of recycled
// storage).
type uninitAllocator interface {
	// AllocUninit returns a storage of n elements with unspecified
	// contents.
	AllocUninit(n int) Storage
}

// Backend is the set of primitive operations a device provides. Every tensor
// op is written once against it; the CPU backend (cpu.go) implements it with
// the kernels package and a CUDA backend registers its own under the cuda
// build tag. The op code has already checked shapes, axes and indices and
// allocated the outputs, so a backend validates nothing and never panics with
// a *ShapeError.
//
// Layout conventions for all primitives: a Buf is a contiguous run of a
// storage; "shape" plus per-operand "strides" (in elements, one per axis of
// shape, 0 for a broadcast axis) describe a strided view of a Buf starting
// at its Off. A reduction or softmax "over (outer, axis, inner)" treats x as
// a row-major [outer, axis, inner] block and works along the middle axis,
// writing a row-major [outer, inner] result. Sizes may be 0, in which case a
// primitive does nothing. Outputs never overlap inputs unless the method
// says so. Primitives may run concurrently from several goroutines on
// distinct outputs.
type Backend interface {
	// Name identifies the device in messages, e.g. "cpu" or "cuda:0".
	Name() string

	// Alloc returns a new zero-filled storage of n elements.
	Alloc(n int) Storage
	// Upload copies len(src) host values into dst (dst.N == len(src)).
	Upload(dst Buf, src []float32)
	// Download copies src into the host slice dst (len(dst) == src.N).
	Download(dst []float32, src Buf)
	// Fill sets every element of dst to v.
	Fill(dst Buf, v float32)
	// Copy copies src into dst (same N); they do not overlap.
	Copy(dst, src Buf)
	// StridedCopy copies the view (src, srcStrides, shape) into the view
	// (dst, dstStrides, shape), elementwise in row-major order of shape. It
	// is the primitive behind permute, expand, narrow and concat. The
	// destination view addresses each element at most once.
	StridedCopy(dst Buf, dstStrides []int, src Buf, srcStrides []int, shape []int)

	// Unary sets dst[i] = op(x[i]; p, q) for the contiguous runs dst and x
	// (same N). dst may be exactly x (in-place), never a partial overlap.
	Unary(op UnaryOp, dst, x Buf, p, q float32)
	// Binary sets the contiguous row-major dst of the given shape to
	// op(a, b), with a and b read through their strides (0 on broadcast
	// axes). dst may be exactly a (in-place accumulate), with a's strides
	// then being dst's contiguous ones.
	Binary(op BinaryOp, dst Buf, shape []int, a Buf, aStrides []int, b Buf, bStrides []int)
	// Where sets the contiguous dst of the given shape to a where m != 0 and
	// b elsewhere, all three read through strides as in Binary.
	Where(dst Buf, shape []int, m Buf, mStrides []int, a Buf, aStrides []int, b Buf, bStrides []int)
	// Axpy sets y += alpha*x elementwise (same N).
	Axpy(alpha float32, x, y Buf)

	// Reduce writes op over (outer, axis, inner) of x into dst (outer*inner
	// elements). Sums must be accurate to a few float32 ulps of the exact
	// result even for axis sizes of 1e6 or more (accumulate in float64 or
	// pairwise) and must not depend on the number of threads.
	Reduce(op ReduceOp, dst Buf, x Buf, outer, axis, inner int)
	// ArgReduce is Reduce for RMax or RMin that also writes, into the host
	// slice idx (outer*inner entries), the position along the axis of the
	// value chosen: the first one on ties, the first NaN if there is one.
	ArgReduce(op ReduceOp, dst Buf, idx []int, x Buf, outer, axis, inner int)
	// Softmax writes softmax (or log-softmax when log is set) over
	// (outer, axis, inner) of x into dst (same N as x), shifted by the max
	// along the axis for stability, in the manner of torch.softmax.
	Softmax(dst, x Buf, outer, axis, inner int, log bool)

	// Gather treats src as [outer, axisLen, inner] and writes the
	// [outer, len(idx), inner] dst with dst[o,j,:] = src[o,idx[j],:].
	Gather(dst, src Buf, outer, axisLen, inner int, idx []int)
	// IndexAdd treats dst as [outer, axisLen, inner] and src as
	// [outer, len(idx), inner] and adds src[o,j,:] into dst[o,idx[j],:];
	// repeated indices accumulate.
	IndexAdd(dst, src Buf, outer, axisLen, inner int, idx []int)

	// Gemm runs len(cOffs) independent products
	//   C_i = alpha*op(A_i)*op(B_i) + beta*C_i
	// with op(A_i) m×k starting at element aOffs[i] of a (row stride lda),
	// op(B_i) k×n at bOffs[i] of b (row stride ldb) and C_i m×n at cOffs[i]
	// of c (row stride ldc), all row-major; op transposes when the flag is
	// set. The A_i (or B_i) may coincide (broadcast batches); the C_i do
	// not overlap. With beta 0, C is not read. k may be 0 (C = beta*C).
	Gemm(transA, transB bool, m, n, k int, alpha float32,
		a Storage, aOffs []int, lda int, b Storage, bOffs []int, ldb int,
		beta float32, c Storage, cOffs []int, ldc int)

	// Convolution, pooling and batch normalization over contiguous NCHW
	// runs: the operations a GPU library such as cuDNN provides whole. In
	// these primitives an optional Buf is absent when its S is nil.

	// Conv2d sets y (N×K×OH×OW) to the cross-correlation of x (N×C×H×W)
	// with w (K×C×KH×KW), plus bias (K, optional), as described by p.
	Conv2d(p ConvParams, y, x, w, bias Buf)
	// Conv2dBackward computes the wanted gradients of Conv2d from dy: dx
	// (needs w), dw (needs x) and db; each is optional and is overwritten.
	Conv2dBackward(p ConvParams, dx, dw, db, dy, x, w Buf)
	// MaxPool2d sets y to the window maxima of x and idx (y's size) to the
	// position h*W+w of each maximum within its input plane, as exact
	// float32 integers (PyTorch's return_indices): the first maximum wins
	// ties, NaN wins over numbers.
	MaxPool2d(p PoolParams, y, idx, x Buf)
	// MaxPool2dBackward sets dx to zero plus dy added at the positions idx.
	MaxPool2dBackward(p PoolParams, dx, dy, idx Buf)
	// AvgPool2d sets y to the window means of x with PyTorch's divisor
	// (p.CountIncludePad).
	AvgPool2d(p PoolParams, y, x Buf)
	// AvgPool2dBackward sets dx to the gradient of AvgPool2d given dy.
	AvgPool2dBackward(p PoolParams, dx, dy Buf)
	// ChannelStats treats x as [n, c, hw] and writes, per channel, the mean
	// and the biased variance over the n*hw values (accumulated in float64,
	// independent of the number of threads).
	ChannelStats(mean, variance, x Buf, n, c, hw int)
	// ChannelAffine sets y = x*scale[ch] + shift[ch] for x as [n, c, hw];
	// y may be exactly x.
	ChannelAffine(y, x Buf, n, c, hw int, scale, shift Buf)
	// BatchNormBackward is the gradient of y = (x-mean[ch])*invstd[ch]*gamma[ch]
	// + beta[ch] over x as [n, c, hw]. It writes dbeta = Σ dy and
	// dgamma = Σ dy*(x-mean)*invstd per channel (each optional), and dx
	// (optional) = gamma*invstd*(dy - dbeta/M - (x-mean)*invstd*dgamma/M),
	// M = n*hw, when batchStats (mean and invstd came from x itself), or
	// gamma*invstd*dy when they are constants (evaluation mode). gamma is
	// optional (absent means 1).
	BatchNormBackward(dx, dgamma, dbeta, dy, x Buf, n, c, hw int, mean, invstd, gamma Buf, batchStats bool)

	// The optimizers' fused updates, over contiguous runs of one N, in
	// place: each parameter is one pass on its device, never a host copy.

	// SGDStep updates p (and the momentum buffer buf, absent when
	// o.Momentum is 0) from the gradient g by kernels.SGDStep's rule; a
	// GPU's rounding may differ from the CPU's fused multiply-adds by an
	// ulp.
	SGDStep(p, g, buf Buf, o SGDOptions)
	// AdamStep updates p and the moments m, v (and vmax, AMSGrad's running
	// maximum, absent without it) from g by kernels.AdamStep's rule.
	AdamStep(p, g, m, v, vmax Buf, o AdamOptions)

	// Dropout sets dst[i] = x[i]*scale where kernels.DropoutKeep(seed, i, p)
	// and +0 elsewhere, over contiguous runs of one N; dst may be exactly
	// x. The mask is a pure function of (seed, i), so every device draws
	// the same one without host memory.
	Dropout(dst, x Buf, seed uint64, p, scale float32)
}

// ConvParams describes a 2-D convolution for Backend.Conv2d: N images of C
// channels of H×W, K filters of C×KH×KW, strides SH, SW, zero padding PH, PW
// on each side, and the output size OH×OW the op has already checked. ReLU
// asks Conv2d for max(y, 0) (a fused activation, cuDNN's
// ConvolutionBiasActivationForward); Conv2dBackward ignores it.
// ForwardOnly says no gradient will be taken through y, so a backend may
// pick an algorithm that is faster but a little less exact (the CPU's
// F(4×4, 3×3) Winograd; see kernels.ConvShape).
type ConvParams struct {
	N, C, H, W     int
	K, KH, KW      int
	SH, SW, PH, PW int
	OH, OW         int
	ReLU           bool
	ForwardOnly    bool
}

// PoolParams describes 2-D pooling for the Backend pooling primitives:
// N×C planes of H×W, windows KH×KW, strides, padding and output size as in
// ConvParams. CountIncludePad is avg_pool2d's flag of that name.
type PoolParams struct {
	N, C, H, W      int
	KH, KW          int
	SH, SW, PH, PW  int
	OH, OW          int
	CountIncludePad bool
}

var (
	backendsMu sync.Mutex
	backends   atomic.Pointer[map[Device]Backend] // copy-on-write, read lock-free by every op
)

func init() {
	m := map[Device]Backend{CPU: cpuBackend{}}
	backends.Store(&m)
}

// RegisterBackend makes b the backend of device d (the cuda package does
// this from an init function under its build tag). Registering CPU replaces
// the built-in backend, which tests of alternative backends can use.
func RegisterBackend(d Device, b Backend) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	old := *backends.Load()
	m := make(map[Device]Backend, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[d] = b
	backends.Store(&m)
}

func lookupBackend(d Device) Backend {
	return (*backends.Load())[d]
}

// backendOf returns the backend of d or panics, naming op, when none is
// registered (for example a CUDA tensor in a binary built without cuda).
func backendOf(op string, d Device) Backend {
	b := lookupBackend(d)
	if b == nil {
		panic(&ShapeError{Op: op, Detail: fmt.Sprintf("no backend registered for device %d", int(d))})
	}
	return b
}

// CPUBackend returns the built-in host backend, whatever is registered for
// CPU at the moment (a profiler, a test's replacement). A backend that keeps
// its values in host memory under a storage type of its own (the fake device
// of package tensor/fakedevice, which tests use to find code that still
// reaches into host memory) delegates its arithmetic to it, so its results
// are bit-identical to the CPU's.
func CPUBackend() Backend { return cpuBackend{} }
