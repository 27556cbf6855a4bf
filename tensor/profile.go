package tensor

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// OpProfile accumulates the wall time the backend primitives of one device
// spend, by category, while profiling is on (StartProfile). It answers
// "where does a training step go" in the terms PyTorch's profiler uses
// (convolution forward, input gradient, weight gradient, batch norm, ...),
// so that the two can be set side by side.
//
// The convolution backward primitive computes dx and dw in one call; to
// tell the two apart, a profiled Conv2dBackward runs as two calls, one for
// dx and one for dw and db. That repeats the gathering of dy (a memory pass,
// small beside the GEMMs), so a profiled step is slightly slower than an
// unprofiled one.
type OpProfile struct {
	mu    sync.Mutex
	total map[string]time.Duration
	calls map[string]int
	convs map[convKey]*ConvTime
}

// ConvTime is the time one convolution shape spent in one direction while
// profiled: the figures behind a per-layer GFLOP/s table.
type ConvTime struct {
	Op    string     // ProfConvForward, ProfConvInputGrad or ProfConvWeightGrad
	Shape ConvParams // with ReLU and ForwardOnly cleared: one entry per shape
	Time  time.Duration
	Calls int
}

// FLOPs is the arithmetic of one call counted as a direct convolution
// does it (2·N·K·C·KH·KW·OH·OW, the same for either gradient), whatever
// algorithm ran: so GFLOPS compares algorithms on one scale, and a
// Winograd layer may exceed the machine's FMA peak.
func (c ConvTime) FLOPs() float64 {
	p := c.Shape
	return 2 * float64(p.N) * float64(p.K) * float64(p.C*p.KH*p.KW) * float64(p.OH*p.OW)
}

// GFLOPS is the effective rate over the calls: FLOPs per call times
// calls, over the time they took.
func (c ConvTime) GFLOPS() float64 {
	if c.Time <= 0 {
		return 0
	}
	return c.FLOPs() * float64(c.Calls) / c.Time.Seconds() / 1e9
}

type convKey struct {
	op    string
	shape ConvParams
}

// OpTime is one category of an OpProfile.
type OpTime struct {
	Op    string
	Time  time.Duration
	Calls int
}

// Profile categories.
const (
	ProfConvForward    = "conv forward"
	ProfConvInputGrad  = "conv input grad"
	ProfConvWeightGrad = "conv weight grad"
	ProfGemm           = "gemm (linear, matmul)"
	ProfBatchNorm      = "batch norm"
	ProfPool           = "pooling"
	ProfElementwise    = "elementwise"
	ProfCopy           = "copies (concat, permute, fill)"
	ProfReduce         = "reductions, softmax"
	ProfIndex          = "gather, index add"
	ProfOptim          = "optimizer steps"
	ProfAlloc          = "allocation"
)

// Times returns the categories in decreasing time.
func (p *OpProfile) Times() []OpTime {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]OpTime, 0, len(p.total))
	for op, t := range p.total {
		out = append(out, OpTime{Op: op, Time: t, Calls: p.calls[op]})
	}
	slices.SortFunc(out, func(a, b OpTime) int {
		if a.Time != b.Time {
			return int(b.Time - a.Time)
		}
		if a.Op < b.Op {
			return -1
		}
		return 1
	})
	return out
}

// Convs returns the convolution entries by shape and direction, in
// decreasing time. Their times are also in Times' conv categories.
func (p *OpProfile) Convs() []ConvTime {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ConvTime, 0, len(p.convs))
	for _, c := range p.convs {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b ConvTime) int {
		if a.Time != b.Time {
			return int(b.Time - a.Time)
		}
		return strings.Compare(a.Op+fmt.Sprint(a.Shape), b.Op+fmt.Sprint(b.Shape))
	})
	return out
}

// Reset clears the accumulated times (after warm-up steps, say).
func (p *OpProfile) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.total)
	clear(p.calls)
	clear(p.convs)
}

func (p *OpProfile) add(op string, start time.Time) {
	d := time.Since(start)
	p.mu.Lock()
	p.total[op] += d
	p.calls[op]++
	p.mu.Unlock()
}

// addConv is add for a convolution, also kept by shape.
func (p *OpProfile) addConv(op string, shape ConvParams, start time.Time) {
	d := time.Since(start)
	shape.ReLU, shape.ForwardOnly = false, false
	k := convKey{op, shape}
	p.mu.Lock()
	p.total[op] += d
	p.calls[op]++
	c := p.convs[k]
	if c == nil {
		c = &ConvTime{Op: op, Shape: shape}
		p.convs[k] = c
	}
	c.Time += d
	c.Calls++
	p.mu.Unlock()
}

// StartProfile wraps the backend of device d so that every primitive's time
// is added to the returned profile, until stop is called (which restores
// the backend). Profiling is process-wide for d: start it when nothing else
// runs ops on d, and do not nest it.
func StartProfile(d Device) (prof *OpProfile, stop func()) {
	inner := backendOf("tensor.StartProfile", d)
	prof = &OpProfile{total: map[string]time.Duration{}, calls: map[string]int{}, convs: map[convKey]*ConvTime{}}
	RegisterBackend(d, &profiledBackend{inner: inner, p: prof})
	return prof, func() { RegisterBackend(d, inner) }
}

// profiledBackend times each primitive of inner into p.
type profiledBackend struct {
	inner Backend
	p     *OpProfile
}

func (b *profiledBackend) Name() string { return b.inner.Name() }

func (b *profiledBackend) Alloc(n int) Storage {
	defer b.p.add(ProfAlloc, time.Now())
	return b.inner.Alloc(n)
}

func (b *profiledBackend) AllocUninit(n int) Storage {
	defer b.p.add(ProfAlloc, time.Now())
	if u, ok := b.inner.(uninitAllocator); ok {
		return u.AllocUninit(n)
	}
	return b.inner.Alloc(n)
}

func (b *profiledBackend) Upload(dst Buf, src []float32) {
	defer b.p.add(ProfCopy, time.Now())
	b.inner.Upload(dst, src)
}

func (b *profiledBackend) Download(dst []float32, src Buf) {
	defer b.p.add(ProfCopy, time.Now())
	b.inner.Download(dst, src)
}

func (b *profiledBackend) Fill(dst Buf, v float32) {
	defer b.p.add(ProfCopy, time.Now())
	b.inner.Fill(dst, v)
}

func (b *profiledBackend) Copy(dst, src Buf) {
	defer b.p.add(ProfCopy, time.Now())
	b.inner.Copy(dst, src)
}

func (b *profiledBackend) StridedCopy(dst Buf, dstStrides []int, src Buf, srcStrides []int, shape []int) {
	defer b.p.add(ProfCopy, time.Now())
	b.inner.StridedCopy(dst, dstStrides, src, srcStrides, shape)
}

func (b *profiledBackend) Unary(op UnaryOp, dst, x Buf, p, q float32) {
	defer b.p.add(ProfElementwise, time.Now())
	b.inner.Unary(op, dst, x, p, q)
}

func (b *profiledBackend) Binary(op BinaryOp, dst Buf, shape []int, a Buf, aStrides []int, x Buf, xStrides []int) {
	defer b.p.add(ProfElementwise, time.Now())
	b.inner.Binary(op, dst, shape, a, aStrides, x, xStrides)
}

func (b *profiledBackend) Where(dst Buf, shape []int, m Buf, mStrides []int, a Buf, aStrides []int, x Buf, xStrides []int) {
	defer b.p.add(ProfElementwise, time.Now())
	b.inner.Where(dst, shape, m, mStrides, a, aStrides, x, xStrides)
}

func (b *profiledBackend) Axpy(alpha float32, x, y Buf) {
	defer b.p.add(ProfElementwise, time.Now())
	b.inner.Axpy(alpha, x, y)
}

func (b *profiledBackend) Reduce(op ReduceOp, dst Buf, x Buf, outer, axis, inner int) {
	defer b.p.add(ProfReduce, time.Now())
	b.inner.Reduce(op, dst, x, outer, axis, inner)
}

func (b *profiledBackend) ArgReduce(op ReduceOp, dst Buf, idx []int, x Buf, outer, axis, inner int) {
	defer b.p.add(ProfReduce, time.Now())
	b.inner.ArgReduce(op, dst, idx, x, outer, axis, inner)
}

func (b *profiledBackend) Softmax(dst, x Buf, outer, axis, inner int, log bool) {
	defer b.p.add(ProfReduce, time.Now())
	b.inner.Softmax(dst, x, outer, axis, inner, log)
}

func (b *profiledBackend) Gather(dst, src Buf, outer, axisLen, inner int, idx []int) {
	defer b.p.add(ProfIndex, time.Now())
	b.inner.Gather(dst, src, outer, axisLen, inner, idx)
}

func (b *profiledBackend) IndexAdd(dst, src Buf, outer, axisLen, inner int, idx []int) {
	defer b.p.add(ProfIndex, time.Now())
	b.inner.IndexAdd(dst, src, outer, axisLen, inner, idx)
}

func (b *profiledBackend) Gemm(transA, transB bool, m, n, k int, alpha float32,
	a Storage, aOffs []int, lda int, x Storage, xOffs []int, ldb int,
	beta float32, c Storage, cOffs []int, ldc int) {
	defer b.p.add(ProfGemm, time.Now())
	b.inner.Gemm(transA, transB, m, n, k, alpha, a, aOffs, lda, x, xOffs, ldb, beta, c, cOffs, ldc)
}

func (b *profiledBackend) Conv2d(p ConvParams, y, x, w, bias Buf) {
	defer b.p.addConv(ProfConvForward, p, time.Now())
	b.inner.Conv2d(p, y, x, w, bias)
}

func (b *profiledBackend) Conv2dBackward(p ConvParams, dx, dw, db, dy, x, w Buf) {
	if dx.S != nil {
		start := time.Now()
		b.inner.Conv2dBackward(p, dx, Buf{}, Buf{}, dy, x, w)
		b.p.addConv(ProfConvInputGrad, p, start)
	}
	if dw.S != nil || db.S != nil {
		start := time.Now()
		b.inner.Conv2dBackward(p, Buf{}, dw, db, dy, x, w)
		b.p.addConv(ProfConvWeightGrad, p, start)
	}
}

func (b *profiledBackend) MaxPool2d(p PoolParams, y, idx, x Buf) {
	defer b.p.add(ProfPool, time.Now())
	b.inner.MaxPool2d(p, y, idx, x)
}

func (b *profiledBackend) MaxPool2dBackward(p PoolParams, dx, dy, idx Buf) {
	defer b.p.add(ProfPool, time.Now())
	b.inner.MaxPool2dBackward(p, dx, dy, idx)
}

func (b *profiledBackend) AvgPool2d(p PoolParams, y, x Buf) {
	defer b.p.add(ProfPool, time.Now())
	b.inner.AvgPool2d(p, y, x)
}

func (b *profiledBackend) AvgPool2dBackward(p PoolParams, dx, dy Buf) {
	defer b.p.add(ProfPool, time.Now())
	b.inner.AvgPool2dBackward(p, dx, dy)
}

func (b *profiledBackend) ChannelStats(mean, variance, x Buf, n, c, hw int) {
	defer b.p.add(ProfBatchNorm, time.Now())
	b.inner.ChannelStats(mean, variance, x, n, c, hw)
}

func (b *profiledBackend) ChannelAffine(y, x Buf, n, c, hw int, scale, shift Buf) {
	defer b.p.add(ProfBatchNorm, time.Now())
	b.inner.ChannelAffine(y, x, n, c, hw, scale, shift)
}

func (b *profiledBackend) BatchNormBackward(dx, dgamma, dbeta, dy, x Buf, n, c, hw int, mean, invstd, gamma Buf, batchStats bool) {
	defer b.p.add(ProfBatchNorm, time.Now())
	b.inner.BatchNormBackward(dx, dgamma, dbeta, dy, x, n, c, hw, mean, invstd, gamma, batchStats)
}

func (b *profiledBackend) SGDStep(p, g, buf Buf, o SGDOptions) {
	defer b.p.add(ProfOptim, time.Now())
	b.inner.SGDStep(p, g, buf, o)
}

func (b *profiledBackend) Dropout(dst, x Buf, seed uint64, p, scale float32) {
	defer b.p.add(ProfElementwise, time.Now())
	b.inner.Dropout(dst, x, seed, p, scale)
}

func (b *profiledBackend) AdamStep(p, g, m, v, vmax Buf, o AdamOptions) {
	defer b.p.add(ProfOptim, time.Now())
	b.inner.AdamStep(p, g, m, v, vmax, o)
}
