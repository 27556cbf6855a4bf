package kernels

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/vmdls-go/vmdls/parallel"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices, where
// op(X) is X or its transpose. op(A) is m×k, op(B) is k×n and C is m×n; lda,
// ldb and ldc are the row strides of A, B and C as stored. When beta is 0, C
// is not read (NaNs in it do not propagate), as in BLAS; when alpha is 0 or k
// is 0, A and B are not read and C becomes beta*C.
//
// The product is computed BLIS-style: blocks of op(B) and op(A) are packed
// into contiguous panels sized to this CPU's caches and fed to a
// register-blocked assembly micro-kernel (AVX-512 or AVX2+FMA, chosen at
// start-up; pure Go elsewhere), split over parallel.Threads() workers of
// the pool. It panics, naming the argument, when a dimension is negative, a
// leading dimension is too small or a slice is too short. It may be called
// from several goroutines at once and from inside parallel.For.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	// More parts than processors would only take turns on them.
	threads := min(parallel.Threads(), runtime.GOMAXPROCS(0))
	sgemmWith(sgemmKernel(), threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkSgemmArgs panics unless the arguments describe matrices that fit
// their slices, with the reference BLAS rules for leading dimensions.
func checkSgemmArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for _, d := range []struct {
		name string
		v    int
	}{{"m", m}, {"n", n}, {"k", k}} {
		if d.v < 0 {
			panic(fmt.Sprintf("kernels.Sgemm: %s = %d is negative", d.name, d.v))
		}
	}
	check := func(name string, s []float32, rows, cols, ld int) {
		if ld < max(1, cols) {
			panic(fmt.Sprintf("kernels.Sgemm: ld%s = %d is less than max(1, %d), the columns of %s as stored", name, ld, cols, name))
		}
		if rows > 0 && cols > 0 {
			if need := (rows-1)*ld + cols; len(s) < need {
				panic(fmt.Sprintf("kernels.Sgemm: len(%s) = %d is less than %d, needed for a %d×%d matrix with ld%s = %d",
					name, len(s), need, rows, cols, name, ld))
			}
		}
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	check("a", a, ar, ac, lda)
	check("b", b, br, bc, ldb)
	check("c", c, m, n, ldc)
}

// scaleRows sets C = beta*C on an m×n block, without reading C when beta
// is 0.
func scaleRows(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// minParallelFlops is the size of product below which splitting over
// workers costs more (a fork-join, and packing some operand once per part)
// than it saves.
const minParallelFlops = 2 * 96 * 96 * 96

func sgemmWith(kern *microKernel, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleRows(m, n, beta, c, ldc)
		return
	}
	if 2*float64(m)*float64(n)*float64(k) < minParallelFlops {
		threads = 1
	}
	g := getGemm()
	g.run(kern, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	putGemm(g)
}

// gemm holds one Sgemm call in flight: its arguments, how it is split and
// the parts' buffers. It is recycled across calls so that
// steady-state calls allocate nothing; the closures handed to the pool are
// made once per gemm for the same reason.
type gemm struct {
	kern           *microKernel
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int

	tm, tn      int // the parts split C tm ways over rows, tn over columns
	kcBlk       int // depth of the k blocks
	groupPanels int // B micro-panels packed at once by runSmallM
	parts       []gemmPart
	// sharedA, when not nil, is all of op(A) packed once for every part
	// (runSharedA): k block pc at sharedA[pc*mPad:], its mr-row micro-panel
	// of row i at i*kc within that.
	sharedA   []float32
	sharedBuf []float32 // sharedA's storage, kept across calls

	smallFn, partsFn, packSharedFn func(lo, hi int)
}

// gemmPart is one worker's private state.
type gemmPart struct {
	ap   []float32 // packed mc×kc block of op(A) (all of op(A) for small M)
	bg   []float32 // packed kc×nc block of op(B) (a few micro-panels for small M)
	tile []float32 // an mr×nr tile for edges of C
}

var (
	gemmFreeMu sync.Mutex
	gemmFree   []*gemm // not a sync.Pool: GC would drop the big buffers
)

func getGemm() *gemm {
	gemmFreeMu.Lock()
	defer gemmFreeMu.Unlock()
	if n := len(gemmFree); n > 0 {
		g := gemmFree[n-1]
		gemmFree = gemmFree[:n-1]
		return g
	}
	g := &gemm{}
	g.smallFn = g.computeSmallM
	g.partsFn = g.computeParts
	g.packSharedFn = g.packSharedA
	return g
}

func putGemm(g *gemm) {
	g.a, g.b, g.c, g.sharedA = nil, nil, nil, nil
	gemmFreeMu.Lock()
	if len(gemmFree) < 8 {
		gemmFree = append(gemmFree, g)
	}
	gemmFreeMu.Unlock()
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Relative costs, per element and per unit of depth, of the work a part
// does, in multiply-adds of the micro-kernel: packing an element of A
// (a transpose, by gathers or in Go) and of B (row copies), as measured on
// Zen 5 against the AVX-512 kernel's 32 multiply-adds per cycle (the A
// figure is the Go transpose's; gathers halve it). They only need to be
// right within a factor of two or so to pick the split.
const (
	packACost = 140
	packBCost = 20
)

// splitParts chooses how threads parts share C: tm ways over rows and tn
// over columns (whole micro-tiles), tm*tn = threads. Each part packs its own
// rows of A and its own columns of B, so a row split packs B tm times and a
// column split packs A tn times; and a part packs its rows of A again for
// every nc-wide block of its columns. The choice minimises the largest
// part's micro-kernel work plus packing.
func splitParts(threads, mTiles, nTiles, mr, nr, nc int) (tm, tn int) {
	best := -1
	for t := 1; t <= threads; t++ {
		if threads%t != 0 {
			continue
		}
		u := threads / t
		if cost := partCost(t, u, mTiles, nTiles, mr, nr, nc); best < 0 || cost < best {
			best, tm, tn = cost, t, u
		}
	}
	return tm, tn
}

// partCost is the largest part's cost, per unit of depth, of the tm×tn
// split with private packing (the model of splitParts).
func partCost(tm, tn, mTiles, nTiles, mr, nr, nc int) int {
	pm, pn := (mTiles+tm-1)/tm, (nTiles+tn-1)/tn
	ncBlocks := (pn*nr + nc - 1) / nc
	return pm*pn*mr*nr + packACost*pm*mr*ncBlocks + packBCost*pn*nr
}

func (g *gemm) run(kern *microKernel, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g.kern, g.transA, g.transB = kern, transA, transB
	g.m, g.n, g.k, g.alpha, g.beta = m, n, k, alpha, beta
	g.a, g.b, g.c, g.lda, g.ldb, g.ldc = a, b, c, lda, ldb, ldc
	mr, nr, blk := kern.mr, kern.nr, kern.blk

	// A part needs at least one micro-tile: never use more parts than tiles.
	mTiles := (m + mr - 1) / mr
	nTiles := (n + nr - 1) / nr
	threads = max(1, min(threads, mTiles*nTiles))

	kcBlk := evenBlock(k, blk.kc, 8)
	if mTiles*mr*k <= blk.smallA && n >= 4*m {
		g.runSmallM(threads, kcBlk)
		return
	}
	g.tm, g.tn = splitParts(threads, mTiles, nTiles, mr, nr, blk.nc)
	if threads > 1 && mTiles*mr*k <= maxSharedA && sharedAFaster(threads, g.tm, g.tn, mTiles, nTiles, mr, nr, blk.nc) {
		g.runSharedA(threads, kcBlk)
		return
	}
	g.runParts(g.tm*g.tn, kcBlk)
}

// maxSharedA bounds the packed op(A), in floats (4 MiB), that runSharedA
// keeps for a call: it stays allocated in the recycled gemm, so large ones
// go the general way.
const maxSharedA = 1 << 20

// sharedAFaster reports whether runSharedA's split, by columns over one
// copy of op(A) packed by all threads together, costs less in splitParts'
// model than its best split (tm×tn) with private packing: it packs no A or
// B twice, while a row split packs all of B in every part, which is what
// dominates a short, deep product (a convolution's 256×2304 filters times
// its 1024 pixels: 0.93x OpenBLAS on two threads with the row split).
func sharedAFaster(threads, tm, tn, mTiles, nTiles, mr, nr, nc int) bool {
	private := partCost(tm, tn, mTiles, nTiles, mr, nr, nc)
	qn := (nTiles + threads - 1) / threads
	shared := mTiles*qn*mr*nr + packACost*mTiles*mr/threads + packBCost*qn*nr
	return shared < private
}

// runSharedA packs all of op(A) once, its micro-panels shared out over the
// threads, then runs the general schedule split by columns only, every
// part reading the one packed A (two forks and joins, no barrier inside a
// phase, so parts that end up running one after another on a busy pool
// still finish).
func (g *gemm) runSharedA(threads, kcBlk int) {
	mr := g.kern.mr
	mTiles := (g.m + mr - 1) / mr
	g.sharedBuf = grow(g.sharedBuf, mTiles*mr*g.k)
	g.sharedA = g.sharedBuf
	g.kcBlk = kcBlk
	nk := (g.k + kcBlk - 1) / kcBlk
	parallel.ForThreads(threads, nk*mTiles, max(1, mTiles/(4*threads)), g.packSharedFn)
	g.tm, g.tn = 1, threads
	g.runParts(threads, kcBlk)
}

// packSharedA packs the micro-panels [lo, hi) of runSharedA's op(A),
// numbered k block by k block.
func (g *gemm) packSharedA(lo, hi int) {
	mr := g.kern.mr
	mTiles := (g.m + mr - 1) / mr
	mPad := mTiles * mr
	for t := lo; t < hi; {
		b, r := t/mTiles, t%mTiles
		cnt := min(hi-t, mTiles-r) // panels of this k block in [t, hi)
		pc := b * g.kcBlk
		kc := min(g.kcBlk, g.k-pc)
		i0 := r * mr
		g.packA(g.sharedA[pc*mPad+i0*kc:], i0, min(cnt*mr, g.m-i0), pc, kc)
		t += cnt
	}
}

// runSmallM is the schedule for a short, wide product (an A that fits in
// L2, as in a convolution's weights times its unrolled input: m = output
// channels, k = patch size, n = pixels). There, B is read once and each of
// its elements is used only m times, so the general schedule would spend its
// time streaming B through a shared packed block and C through the caches
// once per k block. Here each part owns a range of columns and needs no
// barrier: it packs all of op(A) once, then for each small group of B
// micro-panels packs them for every k block in turn and applies them to the
// group's columns of C, which stay in L2 across the k blocks.
func (g *gemm) runSmallM(threads, kcBlk int) {
	mr, nr := g.kern.mr, g.kern.nr
	mPad := (g.m + mr - 1) / mr * mr
	nTiles := (g.n + nr - 1) / nr
	nparts := max(1, min(threads, nTiles))
	g.tm, g.tn = 1, nparts
	g.kcBlk = kcBlk
	g.groupPanels = max(1, min(nTiles, g.kern.blk.nc/nr, cacheL2/4/(kcBlk*nr*4)))
	if cap(g.parts) < nparts {
		g.parts = make([]gemmPart, nparts)
	}
	g.parts = g.parts[:nparts]
	for i := range g.parts {
		p := &g.parts[i]
		p.ap = grow(p.ap, mPad*g.k)
		p.bg = grow(p.bg, kcBlk*g.groupPanels*nr)
		p.tile = grow(p.tile, mr*nr)
	}
	if nparts == 1 {
		g.computeSmallM(0, 1)
		return
	}
	parallel.ForThreads(nparts, nparts, 1, g.smallFn)
}

// computeSmallM runs parts [lo, hi) of runSmallM.
func (g *gemm) computeSmallM(lo, hi int) {
	mr, nr := g.kern.mr, g.kern.nr
	mPad := (g.m + mr - 1) / mr * mr
	nTiles := (g.n + nr - 1) / nr
	for t := lo; t < hi; t++ {
		part := &g.parts[t]
		// op(A)[:, pc:pc+kc] packed at ap[pc*mPad:], for each k block.
		for pc := 0; pc < g.k; pc += g.kcBlk {
			g.packA(part.ap[pc*mPad:], 0, g.m, pc, min(g.kcBlk, g.k-pc))
		}
		q0, q1 := nTiles*t/g.tn, nTiles*(t+1)/g.tn
		mTiles := mPad / mr
		for qg := q0; qg < q1; qg += g.groupPanels {
			np := min(g.groupPanels, q1-qg)
			for pc := 0; pc < g.k; pc += g.kcBlk {
				kc := min(g.kcBlk, g.k-pc)
				beta := float32(1)
				if pc == 0 {
					beta = g.beta
				}
				g.packBPanels(part.bg, qg*nr, g.n, pc, kc, np)
				// B comes from memory, and is used only mTiles times once
				// packed: fetch the source of the next packing step while
				// the micro-kernel runs, spread over its calls.
				var pf prefetchPlan
				if !g.transB {
					npc, nqg := pc+kc, qg
					if npc >= g.k {
						npc, nqg = 0, qg+g.groupPanels
					}
					if nqg < q1 {
						cols := min(g.groupPanels, q1-nqg) * nr
						cols = min(cols, g.n-nqg*nr)
						pf = prefetchPlan{base: (npc)*g.ldb + nqg*nr, rows: min(g.kcBlk, g.k-npc), span: cols * 4}
						pf.per = (pf.rows + np*mTiles - 1) / (np * mTiles)
					}
				}
				for q := 0; q < np; q++ {
					j := (qg + q) * nr
					bpan := part.bg[q*kc*nr : (q+1)*kc*nr]
					for i := 0; i < g.m; i += mr {
						if pf.next < pf.rows {
							cnt := min(pf.per, pf.rows-pf.next)
							prefetchRows(&g.b[pf.base+pf.next*g.ldb], g.ldb*4, cnt, pf.span)
							pf.next += cnt
						}
						apan := part.ap[pc*mPad+i*kc:][:mr*kc]
						g.tile(part, kc, apan, bpan, i, j, min(mr, g.m-i), min(nr, g.n-j), beta)
					}
				}
			}
		}
	}
}

// prefetchPlan is the source rows of B the next packing step will read:
// rows of span bytes from g.b[base] on, per at a time.
type prefetchPlan struct {
	base, rows, span, per, next int
}

// runParts is the general schedule: each of the tm×tn parts owns a
// rectangle of C and runs the whole blocked loop on it (nc columns of B
// packed for a kc-deep block, then mc rows of A packed and swept against
// them, B micro-panel by B micro-panel) with private packed buffers. Parts
// never wait for one another, so the call forks and joins once, and the B a
// part packs stays in its own core's caches; the price is packing A tn
// times and B tm times, which splitParts weighs.
func (g *gemm) runParts(nparts, kcBlk int) {
	mr, nr, blk := g.kern.mr, g.kern.nr, g.kern.blk
	g.kcBlk = kcBlk
	nTiles := (g.n + nr - 1) / nr
	ncPart := min(blk.nc, (nTiles+g.tn-1)/g.tn*nr)
	mcMax := min(blk.mc, (g.m+mr-1)/mr*mr)
	if cap(g.parts) < nparts {
		g.parts = make([]gemmPart, nparts)
	}
	g.parts = g.parts[:nparts]
	for i := range g.parts {
		p := &g.parts[i]
		if g.sharedA == nil { // runSharedA packed all of A already
			p.ap = grow(p.ap, mcMax*kcBlk)
		}
		p.bg = grow(p.bg, kcBlk*ncPart)
		p.tile = grow(p.tile, mr*nr)
	}
	if nparts == 1 {
		g.computeParts(0, 1)
		return
	}
	parallel.ForThreads(nparts, nparts, 1, g.partsFn)
}

// computeParts runs parts [lo, hi) of runParts.
func (g *gemm) computeParts(lo, hi int) {
	mr, nr, blk := g.kern.mr, g.kern.nr, g.kern.blk
	mTiles := (g.m + mr - 1) / mr
	nTiles := (g.n + nr - 1) / nr
	for t := lo; t < hi; t++ {
		part := &g.parts[t]
		pm, pn := t/g.tn, t%g.tn
		r0, r1 := mTiles*pm/g.tm*mr, min(g.m, mTiles*(pm+1)/g.tm*mr)
		c0, c1 := nTiles*pn/g.tn*nr, min(g.n, nTiles*(pn+1)/g.tn*nr)
		mPad := mTiles * mr
		for jc := c0; jc < c1; jc += blk.nc {
			nc := min(blk.nc, c1-jc)
			np := (nc + nr - 1) / nr
			for pc := 0; pc < g.k; pc += g.kcBlk {
				kc := min(g.kcBlk, g.k-pc)
				beta := float32(1)
				if pc == 0 {
					beta = g.beta
				}
				g.packBPanels(part.bg, jc, jc+nc, pc, kc, np)
				mcBlk := evenBlock(r1-r0, blk.mc, mr)
				for ic := r0; ic < r1; ic += mcBlk {
					mc := min(mcBlk, r1-ic)
					ap := part.ap
					if g.sharedA != nil {
						ap = g.sharedA[pc*mPad+ic*kc:]
					} else {
						g.packA(ap, ic, mc, pc, kc)
					}
					for q := 0; q < np; q++ {
						j := jc + q*nr
						bpan := part.bg[q*kc*nr : (q+1)*kc*nr]
						for r := 0; r*mr < mc; r++ {
							i := ic + r*mr
							g.tile(part, kc, ap[r*kc*mr:(r+1)*kc*mr], bpan, i, j, min(mr, ic+mc-i), min(nr, jc+nc-j), beta)
						}
					}
				}
			}
		}
	}
}

// packBPanels packs np micro-panels of op(B)[pc:pc+kc, j0:jend] into dst:
// panel q holds columns j0+q*nr .. j0+q*nr+nr with element (p, j) at
// q*kc*nr + p*nr + j, zero-padded past column jend.
func (g *gemm) packBPanels(dst []float32, j0, jend, pc, kc, np int) {
	nr := g.kern.nr
	if !g.transB {
		// Whole panels by the assembly copy where there is one; the last
		// panel may be cut by jend and is padded here.
		src := g.b[pc*g.ldb+j0:]
		full := min(np, (jend-j0)/nr)
		if full > 0 && !packBRows(dst, src, kc, full, nr, g.ldb) {
			packBRowsGo(dst, src, kc, full, nr, g.ldb)
		}
		for q := full; q < np; q++ {
			j := j0 + q*nr
			cols := min(nr, jend-j)
			for p := 0; p < kc; p++ {
				d := dst[q*kc*nr+p*nr:][:nr]
				copy(d, g.b[(pc+p)*g.ldb+j:][:cols])
				clear(d[cols:])
			}
		}
		return
	}
	for q := 0; q < np; q++ {
		j := j0 + q*nr
		cols := min(nr, jend-j)
		d := dst[q*kc*nr:][:kc*nr]
		if cols == nr && nr%8 == 0 && kc >= 8 {
			// Eight columns of B by eight rows at a time, by 8×8
			// transposes; what is left of kc in Go.
			nblk := kc / 8
			done := true
			for jj := 0; jj < nr && done; jj += 8 {
				done = transpose8(d[jj:], g.b[(j+jj)*g.ldb+pc:], g.ldb, nr, 8, nblk)
			}
			if done {
				for jj := 0; jj < nr; jj++ {
					src := g.b[(j+jj)*g.ldb+pc:][:kc]
					for p := nblk * 8; p < kc; p++ {
						d[p*nr+jj] = src[p]
					}
				}
				continue
			}
		}
		for jj := 0; jj < cols; jj++ {
			src := g.b[(j+jj)*g.ldb+pc:][:kc]
			for p, v := range src {
				d[p*nr+jj] = v
			}
		}
		if cols < nr {
			for p := 0; p < kc; p++ {
				clear(d[p*nr+cols : p*nr+nr])
			}
		}
	}
}

// packBRowsGo packs np whole micro-panels of a row-major B, nr floats
// wide, for kc rows: row p of panel q, src[p*ldb+q*nr:][:nr], goes to
// dst[q*kc*nr+p*nr:]. It walks B row by row across all the panels, so that
// B is read in long contiguous runs: one panel's row alone is only nr
// floats, and rows lie a whole ldb apart. It is the specification of the
// assembly packBRows.
func packBRowsGo(dst, src []float32, kc, np, nr, ldb int) {
	for p := 0; p < kc; p++ {
		row := src[p*ldb:][:np*nr]
		for q := 0; q < np; q++ {
			copy(dst[q*kc*nr+p*nr:][:nr], row[q*nr:][:nr])
		}
	}
}

// transpose8Go is the specification of the assembly transpose8: column
// j of each of nblk 8-column blocks of a rows×(8*nblk) matrix (rows 1..8,
// row r at src[r*ldsrc:]) goes to the 8 floats at dst[(8*b+j)*lddst:],
// zeros for rows..8, written column by column (so with lddst < 8 a
// column overwrites the previous one's tail).
func transpose8Go(dst, src []float32, ldsrc, lddst, rows, nblk int) {
	for c := 0; c < 8*nblk; c++ {
		d := dst[c*lddst:][:8]
		for r := range d {
			d[r] = 0
			if r < rows {
				d[r] = src[r*ldsrc+c]
			}
		}
	}
}

// packA packs rows [i0, i0+mc) of op(A)[:, pc:pc+kc] into dst as mr-row
// micro-panels: panel r holds element (i, p) at r*kc*mr + p*mr + i,
// zero-padded past row i0+mc.
func (g *gemm) packA(dst []float32, i0, mc, pc, kc int) {
	mr := g.kern.mr
	for r := 0; r*mr < mc; r++ {
		ib := i0 + r*mr
		rows := min(mr, i0+mc-ib)
		d := dst[r*kc*mr : (r+1)*kc*mr]
		if g.transA {
			for p := 0; p < kc; p++ {
				src := g.a[(pc+p)*g.lda+ib:][:rows]
				dp := d[p*mr : p*mr+mr]
				copy(dp, src)
				clear(dp[rows:])
			}
			continue
		}
		if packAStrip(d, g.a[ib*g.lda+pc:], g.lda, rows, mr, kc) {
			continue
		}
		// By 8×8 transposes where the panel has at most 8 rows: each
		// column's 8-float store overlaps the next column's start, so the
		// last block must be followed by a column of Go (which rewrites
		// what the overlap spilled), and rows..mr come out zero.
		p0 := 0
		if mr <= 8 && rows == mr && kc > 8 && transpose8(d, g.a[ib*g.lda+pc:], g.lda, mr, rows, (kc-1)/8) {
			p0 = (kc - 1) / 8 * 8
		}
		if p0 > 0 {
			for p := p0; p < kc; p++ {
				dp := d[p*mr : p*mr+mr]
				for i := range dp {
					dp[i] = g.a[(ib+i)*g.lda+pc+p]
				}
			}
			continue
		}
		// A transpose of a rows×kc strip: four rows at a time, so that each
		// store fills four neighbouring floats of the packed panel.
		i := 0
		for ; i+4 <= rows; i += 4 {
			s0 := g.a[(ib+i)*g.lda+pc:][:kc]
			s1 := g.a[(ib+i+1)*g.lda+pc:][:kc]
			s2 := g.a[(ib+i+2)*g.lda+pc:][:kc]
			s3 := g.a[(ib+i+3)*g.lda+pc:][:kc]
			for p := range s0 {
				dp := d[p*mr+i:][:4:4]
				dp[0], dp[1], dp[2], dp[3] = s0[p], s1[p], s2[p], s3[p]
			}
		}
		for ; i < rows; i++ {
			src := g.a[(ib+i)*g.lda+pc:][:kc]
			for p, v := range src {
				d[p*mr+i] = v
			}
		}
		if rows < mr {
			for p := 0; p < kc; p++ {
				clear(d[p*mr+rows : p*mr+mr])
			}
		}
	}
}

// tile runs the micro-kernel on the tile of C at (i, j), of which rows×cols
// lie inside C.
func (g *gemm) tile(part *gemmPart, kc int, apan, bpan []float32, i, j, rows, cols int, beta float32) {
	kern := g.kern
	if rows == kern.mr && cols == kern.nr {
		kern.fn(kc, &apan[0], &bpan[0], &g.c[i*g.ldc+j], g.ldc, g.alpha, beta)
		return
	}
	// An edge tile: compute it whole into the scratch tile and copy out the
	// part inside C.
	nr := kern.nr
	kern.fn(kc, &apan[0], &bpan[0], &part.tile[0], nr, 1, 0)
	for ii := 0; ii < rows; ii++ {
		crow := g.c[(i+ii)*g.ldc+j:][:cols]
		trow := part.tile[ii*nr:][:cols]
		if beta == 0 {
			for jj, v := range trow {
				crow[jj] = g.alpha * v
			}
		} else {
			for jj, v := range trow {
				crow[jj] = g.alpha*v + beta*crow[jj]
			}
		}
	}
}
