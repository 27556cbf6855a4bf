package kernels

import "github.com/klauspost/cpuid/v2"

// Cache sizes the SGEMM blocking is derived from, read once from cpuid.
// A size cpuid cannot find (reported as -1, as L3 is on some virtual
// machines) falls back to a value smaller than any current x86 or arm64
// core has, so blocks still fit.
var (
	cacheL1D = cacheOr(cpuid.CPU.Cache.L1D, 32<<10)
	cacheL2  = cacheOr(cpuid.CPU.Cache.L2, 512<<10)
	cacheL3  = cacheOr(cpuid.CPU.Cache.L3, 8<<20)
)

func cacheOr(v, fallback int) int {
	if v <= 0 {
		return fallback
	}
	return v
}

// blocking holds the BLIS-style block sizes for one micro-kernel:
// kc is the depth of a packed panel, mc the rows of A packed at once and nc
// the columns of B packed at once.
type blocking struct {
	kc, mc, nc int
	// smallA is the largest packed op(A), in floats, for which Sgemm uses
	// the small-M schedule (runSmallM): all of it must stay in L2, with
	// room for the B panels and C, for a whole call.
	smallA int
	// kcWinograd is the depth of the channel blocks of the Winograd
	// convolution's transformed-domain products (winograd.go).
	kcWinograd int
}

// blockingFor sizes the blocks for an mr×nr micro-kernel with the cache
// shares sh. These are upper bounds: each call splits its k and m into
// equal blocks no larger (see evenBlock), so that no call ends with a
// sliver of a block.
//   - kc: a kc×nr micro-panel of B is reused by every A micro-panel of the
//     sweep, so it should stay near the core, in sh.l1 of L1. A deep kc
//     also means fewer passes of C through the caches, which dominate for
//     small-M shapes. Every schedule of a kernel uses the same kc, so that
//     a product's rounding does not depend on which one its size picks
//     (a batch of one image scores as it does in a batch of 64).
//   - mc: the mc×kc block of A stays in L2 across the sweep over nc
//     columns, so it gets half of L2.
//   - nc: the kc×nc block of B is shared by all cores from L3, so it gets a
//     quarter of L3, and at most enough columns to keep the number of
//     barriers per call small without spilling L3 on big products.
//   - smallA: runSmallM keeps all of op(A) in L2 beside a group of B
//     micro-panels that takes a quarter of it (groupPanels), so A gets
//     sh.l2 of L2.
//   - kcWinograd: the Winograd products' B panels may fill L1: on Zen 3
//     the AVX2 kernel's products over 512 channels ran 11% faster in one
//     512-deep block than in two of 256.
func blockingFor(mr, nr int, sh cacheShares) blocking {
	depth := func(share float64) int {
		kc := int(float64(cacheL1D)*share) / (nr * 4)
		return max(128, min(kc, 512)) &^ 7
	}
	kc := depth(sh.l1)
	mc := cacheL2 / 2 / (kc * 4)
	mc = max(mr, mc/mr*mr)
	nc := cacheL3 / 4 / (kc * 4)
	nc = max(4*nr, min(nc, 8192)/nr*nr)
	return blocking{kc: kc, mc: mc, nc: nc, smallA: int(float64(cacheL2)*sh.l2) / 4, kcWinograd: depth(1)}
}

// cacheShares are the fractions of L1 a B micro-panel and of L2 the
// small-M schedule's op(A) may take.
type cacheShares struct{ l1, l2 float64 }

// The shares measured best per kernel. The AVX-512 kernels keep the ones
// measured on Zen 5 and Skylake-X: a B panel filling L1 (faster than half
// of it, as the A micro-panels stream from L2 behind it) and A in half of
// L2. On Zen 3 (32 KiB L1, 512 KiB L2) the AVX2 kernel ran a convolution's
// 100×900 by 900×25088 product 16% faster on one thread and on two with A
// in up to three quarters of L2 (its 360 KiB of packed filters no longer
// fall to the general schedule) and B panels in three quarters of L1 (kc
// 384, not 512), and square products as fast or a little faster. On a
// 48 KiB L1 the 512 cap binds either way.
var (
	sharesMeasuredAVX512 = cacheShares{l1: 1, l2: 0.5}
	sharesMeasuredAVX2   = cacheShares{l1: 0.75, l2: 0.75}
)

// evenBlock splits n into the fewest blocks of at most maxBlock and returns
// the size of the blocks: equal, rounded up to a multiple of unit (the last
// block takes the remainder). maxBlock is a multiple of unit.
func evenBlock(n, maxBlock, unit int) int {
	if n <= maxBlock {
		return n
	}
	nb := (n + maxBlock - 1) / maxBlock
	b := (n + nb - 1) / nb
	return min(maxBlock, (b+unit-1)/unit*unit)
}
