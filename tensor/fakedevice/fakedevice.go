// Package fakedevice is a second device for tests and CI machines without a
// GPU: its storage lives in host memory but under a type of its own, so any
// code above the tensor.Backend seam that still reaches into host memory
// (Tensor.Data, which hands out a CPU tensor's []float32) panics on it, as
// it would on a GPU; and every primitive delegates to the CPU backend on the
// wrapped slices, so results are bit-identical to the CPU's. It counts every
// Upload and Download (calls, elements, the largest single transfer), which
// is how tests assert that a training step stays on the device apart from
// the small, documented transfers (per-batch float64 statistics, scalars a
// loop has to branch on).
//
// Importing the package registers the device under Device (7, "fake"); the
// CPU device is untouched.
package fakedevice

import (
	"math"
	"slices"
	"sync/atomic"

	"github.com/vmdls-go/vmdls/tensor"
)

// Device is the fake device's id. 7 is far from cuda.Device (1), so a
// binary built with both registers both.
const Device tensor.Device = 7

func init() { tensor.RegisterBackend(Device, backend{}) }

// storage is the fake device's buffer: a CPU storage that only this
// package unwraps. Keeping it behind a struct, not a []float32 or the CPU's
// own storage type, is the point of the package: tensor's host fast paths
// (Data, Recycle, the CPU's slice access) do not recognise it.
type storage struct {
	inner tensor.Storage
	n     int
	seq   uint64
}

func newStorage(inner tensor.Storage) *storage { return &storage{inner: inner, n: inner.Len()} }

// Len implements tensor.Storage.
func (s *storage) Len() int { return s.n }

// SetSeq, Seq and Recycle implement tensor.RecyclableStorage as a GPU's
// storage does. A released storage drops its host memory, so any later use
// of it (a value or gradient autograd recycled while something still needed
// it) panics in the test that made it, where a GPU would silently compute
// with memory another tensor owns.
func (s *storage) SetSeq(seq uint64) { s.seq = seq }

// Seq implements tensor.RecyclableStorage.
func (s *storage) Seq() uint64 { return s.seq }

// Recycle implements tensor.RecyclableStorage.
func (s *storage) Recycle(release bool) {
	s.seq = 0
	if release {
		s.inner = nil
		counters.released.Add(1)
	}
}

// Stats counts the host transfers of the fake device since the last Reset.
// Elements are float32 values (4 bytes each).
type Stats struct {
	// Uploads and Downloads are the number of calls.
	Uploads, Downloads int64
	// UploadElems and DownloadElems are the float32 values moved.
	UploadElems, DownloadElems int64
	// MaxUpload and MaxDownload are the largest single transfers, in
	// elements: a whole activation downloaded shows up here.
	MaxUpload, MaxDownload int64
	// Released counts the storages recycled back to the device at once
	// (tensor.RecyclableStorage), not left to the garbage collector.
	Released int64
}

// UploadBytes is the number of bytes copied host to device.
func (s Stats) UploadBytes() int64 { return 4 * s.UploadElems }

// DownloadBytes is the number of bytes copied device to host.
func (s Stats) DownloadBytes() int64 { return 4 * s.DownloadElems }

var counters struct {
	up, down, upN, downN, maxUp, maxDown atomic.Int64
	released                             atomic.Int64
}

// Counters returns the transfers counted since the last Reset.
func Counters() Stats {
	return Stats{
		Uploads: counters.up.Load(), Downloads: counters.down.Load(),
		UploadElems: counters.upN.Load(), DownloadElems: counters.downN.Load(),
		MaxUpload: counters.maxUp.Load(), MaxDownload: counters.maxDown.Load(),
		Released: counters.released.Load(),
	}
}

// Reset zeroes the counters. Counting is process-wide, so a test that
// asserts on them must not run in parallel with another that uses the
// device.
func Reset() {
	counters.up.Store(0)
	counters.down.Store(0)
	counters.upN.Store(0)
	counters.downN.Store(0)
	counters.maxUp.Store(0)
	counters.maxDown.Store(0)
	counters.released.Store(0)
}

func storeMax(m *atomic.Int64, v int64) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}

// host is the CPU backend every primitive delegates to.
var host = tensor.CPUBackend()

// u unwraps a fake Buf into the CPU Buf it stands for. An absent optional
// Buf (nil S) stays absent. A Buf of another device's storage panics, as a
// GPU backend would fail on a host pointer.
func u(b tensor.Buf) tensor.Buf {
	if b.S == nil {
		return b
	}
	return tensor.Buf{S: us(b.S), Off: b.Off, N: b.N}
}

// us unwraps a fake storage; a recycled one panics (see storage.Recycle).
func us(s tensor.Storage) tensor.Storage {
	in := s.(*storage).inner
	if in == nil {
		panic("fakedevice: use of a storage after it was recycled (tensor.Recycle released it)")
	}
	return in
}

// backend implements tensor.Backend by unwrapping and delegating.
type backend struct{}

func (backend) Name() string { return "fake" }

func (backend) Alloc(n int) tensor.Storage { return newStorage(host.Alloc(n)) }

// AllocUninit keeps the CPU's fast path (recycled, uncleared storage) so
// that allocation does not differ from the CPU's either.
func (backend) AllocUninit(n int) tensor.Storage {
	type uninit interface{ AllocUninit(int) tensor.Storage }
	if a, ok := host.(uninit); ok {
		return newStorage(a.AllocUninit(n))
	}
	return newStorage(host.Alloc(n))
}

func (backend) Upload(dst tensor.Buf, src []float32) {
	counters.up.Add(1)
	counters.upN.Add(int64(len(src)))
	storeMax(&counters.maxUp, int64(len(src)))
	host.Upload(u(dst), src)
}

func (backend) Download(dst []float32, src tensor.Buf) {
	counters.down.Add(1)
	counters.downN.Add(int64(len(dst)))
	storeMax(&counters.maxDown, int64(len(dst)))
	host.Download(dst, u(src))
}

func (backend) Fill(dst tensor.Buf, v float32) { host.Fill(u(dst), v) }

func (backend) Copy(dst, src tensor.Buf) { host.Copy(u(dst), u(src)) }

func (backend) StridedCopy(dst tensor.Buf, dstStrides []int, src tensor.Buf, srcStrides []int, shape []int) {
	host.StridedCopy(u(dst), dstStrides, u(src), srcStrides, shape)
}

func (backend) Unary(op tensor.UnaryOp, dst, x tensor.Buf, p, q float32) {
	host.Unary(op, u(dst), u(x), p, q)
}

func (backend) Binary(op tensor.BinaryOp, dst tensor.Buf, shape []int, a tensor.Buf, aStrides []int, b tensor.Buf, bStrides []int) {
	host.Binary(op, u(dst), shape, u(a), aStrides, u(b), bStrides)
}

func (backend) Where(dst tensor.Buf, shape []int, m tensor.Buf, mStrides []int, a tensor.Buf, aStrides []int, b tensor.Buf, bStrides []int) {
	host.Where(u(dst), shape, u(m), mStrides, u(a), aStrides, u(b), bStrides)
}

func (backend) Axpy(alpha float32, x, y tensor.Buf) { host.Axpy(alpha, u(x), u(y)) }

func (backend) Reduce(op tensor.ReduceOp, dst, x tensor.Buf, outer, axis, inner int) {
	host.Reduce(op, u(dst), u(x), outer, axis, inner)
}

func (backend) ArgReduce(op tensor.ReduceOp, dst tensor.Buf, idx []int, x tensor.Buf, outer, axis, inner int) {
	host.ArgReduce(op, u(dst), idx, u(x), outer, axis, inner)
}

func (backend) Softmax(dst, x tensor.Buf, outer, axis, inner int, log bool) {
	host.Softmax(u(dst), u(x), outer, axis, inner, log)
}

func (backend) Gather(dst, src tensor.Buf, outer, axisLen, inner int, idx []int) {
	host.Gather(u(dst), u(src), outer, axisLen, inner, idx)
}

func (backend) IndexAdd(dst, src tensor.Buf, outer, axisLen, inner int, idx []int) {
	host.IndexAdd(u(dst), u(src), outer, axisLen, inner, idx)
}

func (backend) Gemm(transA, transB bool, m, n, k int, alpha float32,
	a tensor.Storage, aOffs []int, lda int, b tensor.Storage, bOffs []int, ldb int,
	beta float32, c tensor.Storage, cOffs []int, ldc int) {
	host.Gemm(transA, transB, m, n, k, alpha, us(a), aOffs, lda, us(b), bOffs, ldb, beta, us(c), cOffs, ldc)
}

func (backend) Conv2d(p tensor.ConvParams, y, x, w, bias tensor.Buf) {
	host.Conv2d(p, u(y), u(x), u(w), u(bias))
}

func (backend) Conv2dBackward(p tensor.ConvParams, dx, dw, db, dy, x, w tensor.Buf) {
	host.Conv2dBackward(p, u(dx), u(dw), u(db), u(dy), u(x), u(w))
}

func (backend) MaxPool2d(p tensor.PoolParams, y, idx, x tensor.Buf) {
	host.MaxPool2d(p, u(y), u(idx), u(x))
}

func (backend) MaxPool2dBackward(p tensor.PoolParams, dx, dy, idx tensor.Buf) {
	host.MaxPool2dBackward(p, u(dx), u(dy), u(idx))
}

func (backend) AvgPool2d(p tensor.PoolParams, y, x tensor.Buf) { host.AvgPool2d(p, u(y), u(x)) }

func (backend) AvgPool2dBackward(p tensor.PoolParams, dx, dy tensor.Buf) {
	host.AvgPool2dBackward(p, u(dx), u(dy))
}

func (backend) ChannelStats(mean, variance, x tensor.Buf, n, c, hw int) {
	host.ChannelStats(u(mean), u(variance), u(x), n, c, hw)
}

func (backend) ChannelAffine(y, x tensor.Buf, n, c, hw int, scale, shift tensor.Buf) {
	host.ChannelAffine(u(y), u(x), n, c, hw, u(scale), u(shift))
}

func (backend) BatchNormBackward(dx, dgamma, dbeta, dy, x tensor.Buf, n, c, hw int, mean, invstd, gamma tensor.Buf, batchStats bool) {
	host.BatchNormBackward(u(dx), u(dgamma), u(dbeta), u(dy), u(x), n, c, hw, u(mean), u(invstd), u(gamma), batchStats)
}

func (backend) SGDStep(p, g, buf tensor.Buf, o tensor.SGDOptions) {
	host.SGDStep(u(p), u(g), u(buf), o)
}

func (backend) Dropout(dst, x tensor.Buf, seed uint64, p, scale float32) {
	host.Dropout(u(dst), u(x), seed, p, scale)
}

func (backend) AdamStep(p, g, m, v, vmax tensor.Buf, o tensor.AdamOptions) {
	host.AdamStep(u(p), u(g), u(m), u(v), u(vmax), o)
}

// SameBits reports whether a and b, on any devices, have the same shape and
// the same float32 bit patterns (so +0 and -0 differ and a NaN equals the
// same NaN): the check of the device tests, whose arithmetic is the CPU's.
// Reading a fake-device tensor downloads it, which the counters see: take
// them before comparing.
func SameBits(a, b *tensor.Tensor) bool {
	if !slices.Equal(a.Shape(), b.Shape()) {
		return false
	}
	ha, hb := a.Host(), b.Host()
	for i := range ha {
		if math.Float32bits(ha[i]) != math.Float32bits(hb[i]) {
			return false
		}
	}
	return true
}
