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
}

// blockingFor sizes the blocks for an mr×nr micro-kernel. These are upper
// bounds: each call splits its k and m into equal blocks no larger (see
// evenBlock), so that no call ends with a sliver of a block.
//   - kc: a kc×nr micro-panel of B is reused by every A micro-panel of the
//     sweep, so it should stay near the core: it may fill L1 (Zen 5 and
//     Skylake-X measured faster at L1-sized than at half-L1 panels, as the A
//     micro-panels stream from L2 behind it). A deep kc also means fewer
//     passes of C through the caches, which dominate for small-M shapes.
//   - mc: the mc×kc block of A stays in L2 across the sweep over nc
//     columns, so it gets half of L2.
//   - nc: the kc×nc block of B is shared by all cores from L3, so it gets a
//     quarter of L3, and at most enough columns to keep the number of
//     barriers per call small without spilling L3 on big products.
func blockingFor(mr, nr int) blocking {
	kc := cacheL1D / (nr * 4)
	kc = max(128, min(kc, 512)) &^ 7
	mc := cacheL2 / 2 / (kc * 4)
	mc = max(mr, mc/mr*mr)
	nc := cacheL3 / 4 / (kc * 4)
	nc = max(4*nr, min(nc, 8192)/nr*nr)
	return blocking{kc: kc, mc: mc, nc: nc, smallA: cacheL2 / 2 / 4}
}

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
