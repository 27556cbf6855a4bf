package kernels

import (
	"fmt"
	"runtime"
	"sync"
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
// start-up; pure Go elsewhere), split over Threads() workers of the pool.
// It panics, naming the argument, when a dimension is negative, a leading
// dimension is too small or a slice is too short. It may be called from
// several goroutines at once and from inside ParallelFor.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmWith(sgemmKernel(), Threads(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
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
// workers costs more (a fork-join of a few microseconds per block) than it
// saves.
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
	// More parts than processors would only take turns on them.
	threads = min(threads, runtime.GOMAXPROCS(0))
	if 2*float64(m)*float64(n)*float64(k) < minParallelFlops {
		threads = 1
	}
	g := getGemm()
	g.run(kern, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	putGemm(g)
}

// gemm holds one Sgemm call in flight: its arguments, the shared packed
// block of B, and per-part buffers. It is recycled across calls so that
// steady-state calls allocate nothing; the closures handed to the pool are
// made once per gemm for the same reason.
type gemm struct {
	kern           *microKernel
	transA, transB bool
	m, n, k        int
	alpha          float32
	a, b, c        []float32
	lda, ldb, ldc  int

	// the current block of the BLIS loops
	jc, nc, pc, kc int
	betaBlk        float32 // beta for the first k block, then 1
	tm, tn         int     // the parts split the block tm ways in M, tn in N
	panelsPerPart  int     // B micro-panels each packing chunk covers

	bp    []float32 // packed kc×nc block of op(B), shared by the parts
	parts []gemmPart

	packFn, computeFn func(lo, hi int)
}

// gemmPart is one worker's private state.
type gemmPart struct {
	ap   []float32 // packed mc×kc block of op(A)
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
	g.packFn = g.packB
	g.computeFn = g.compute
	return g
}

func putGemm(g *gemm) {
	g.a, g.b, g.c = nil, nil, nil
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

// splitParts chooses how parts share each m×nc block: tm ways over rows
// and tn over columns, with tm*tn = threads, minimising the largest number
// of micro-tiles a part gets. Ties go to splitting rows, where parts share
// the packed B and pack disjoint pieces of A; a column split makes each part
// pack all of A, cheap only when M is small.
func splitParts(threads, mTiles, nTiles int) (tm, tn int) {
	best := -1
	for t := 1; t <= threads; t++ {
		if threads%t != 0 {
			continue
		}
		u := threads / t
		cost := ((mTiles + t - 1) / t) * ((nTiles + u - 1) / u)
		if best < 0 || cost < best || (cost == best && t > tm) {
			best, tm, tn = cost, t, u
		}
	}
	return tm, tn
}

func (g *gemm) run(kern *microKernel, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g.kern, g.transA, g.transB = kern, transA, transB
	g.m, g.n, g.k, g.alpha = m, n, k, alpha
	g.a, g.b, g.c, g.lda, g.ldb, g.ldc = a, b, c, lda, ldb, ldc
	mr, nr, blk := kern.mr, kern.nr, kern.blk

	// A part needs at least one micro-tile: never use more parts than tiles.
	mTiles := (m + mr - 1) / mr
	ncMax := min(blk.nc, (n+nr-1)/nr*nr)
	nTiles := ncMax / nr
	threads = max(1, min(threads, mTiles*nTiles))
	g.tm, g.tn = splitParts(threads, mTiles, nTiles)
	nparts := g.tm * g.tn

	kcMax := min(blk.kc, k)
	g.bp = grow(g.bp, kcMax*ncMax)
	if cap(g.parts) < nparts {
		g.parts = make([]gemmPart, nparts)
	}
	g.parts = g.parts[:nparts]
	mcMax := min(blk.mc, (m+mr-1)/mr*mr)
	for i := range g.parts {
		p := &g.parts[i]
		p.ap = grow(p.ap, mcMax*kcMax)
		p.tile = grow(p.tile, mr*nr)
	}

	for jc := 0; jc < n; jc += blk.nc {
		g.jc, g.nc = jc, min(blk.nc, n-jc)
		panels := (g.nc + nr - 1) / nr
		for pc := 0; pc < k; pc += blk.kc {
			g.pc, g.kc = pc, min(blk.kc, k-pc)
			g.betaBlk = 1
			if pc == 0 {
				g.betaBlk = beta
			}
			if threads == 1 {
				g.packB(0, panels)
				g.compute(0, 1)
				continue
			}
			parallelFor(threads, panels, (panels+threads-1)/threads, g.packFn)
			parallelFor(threads, nparts, 1, g.computeFn)
		}
	}
}

// packB packs B micro-panels [lo, hi) of the current kc×nc block into g.bp:
// panel q holds op(B)[pc:pc+kc, jc+q*nr : jc+q*nr+nr] with element (p, j)
// at q*kc*nr + p*nr + j, zero-padded past column n.
func (g *gemm) packB(lo, hi int) {
	nr, kc := g.kern.nr, g.kc
	for q := lo; q < hi; q++ {
		j0 := g.jc + q*nr
		cols := min(nr, g.jc+g.nc-j0)
		dst := g.bp[q*kc*nr : (q+1)*kc*nr]
		if !g.transB {
			for p := 0; p < kc; p++ {
				src := g.b[(g.pc+p)*g.ldb+j0:][:cols]
				d := dst[p*nr : p*nr+nr]
				copy(d, src)
				clear(d[cols:])
			}
			continue
		}
		for j := 0; j < cols; j++ {
			src := g.b[(j0+j)*g.ldb+g.pc:][:kc]
			for p, v := range src {
				dst[p*nr+j] = v
			}
		}
		if cols < nr {
			for p := 0; p < kc; p++ {
				clear(dst[p*nr+cols : p*nr+nr])
			}
		}
	}
}

// packA packs rows [i0, i0+mc) of op(A)[:, pc:pc+kc] into dst as mr-row
// micro-panels: panel r holds element (i, p) at r*kc*mr + p*mr + i,
// zero-padded past row m.
func (g *gemm) packA(dst []float32, i0, mc int) {
	mr, kc := g.kern.mr, g.kc
	for r := 0; r*mr < mc; r++ {
		ib := i0 + r*mr
		rows := min(mr, i0+mc-ib)
		d := dst[r*kc*mr : (r+1)*kc*mr]
		if g.transA {
			for p := 0; p < kc; p++ {
				src := g.a[(g.pc+p)*g.lda+ib:][:rows]
				dp := d[p*mr : p*mr+mr]
				copy(dp, src)
				clear(dp[rows:])
			}
			continue
		}
		for i := 0; i < rows; i++ {
			src := g.a[(ib+i)*g.lda+g.pc:][:kc]
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

// compute runs parts [lo, hi) of the current block: part t takes its share
// of the rows (whole micro-tiles) and of the B micro-panels, packs its rows
// of A mc at a time and sweeps the micro-kernel over them, B micro-panel by
// B micro-panel so that each stays in L1 across the sweep.
func (g *gemm) compute(lo, hi int) {
	kern := g.kern
	mr, nr, kc := kern.mr, kern.nr, g.kc
	mTiles := (g.m + mr - 1) / mr
	nTiles := (g.nc + nr - 1) / nr
	for t := lo; t < hi; t++ {
		part := &g.parts[t]
		pm, pn := t/g.tn, t%g.tn
		i0 := mTiles * pm / g.tm * mr
		i1 := min(g.m, mTiles*(pm+1)/g.tm*mr)
		q0 := nTiles * pn / g.tn
		q1 := nTiles * (pn + 1) / g.tn
		for ic := i0; ic < i1; ic += kern.blk.mc {
			mc := min(kern.blk.mc, i1-ic)
			g.packA(part.ap, ic, mc)
			for q := q0; q < q1; q++ {
				bpan := g.bp[q*kc*nr : (q+1)*kc*nr]
				j := g.jc + q*nr
				cols := min(nr, g.jc+g.nc-j)
				for r := 0; r*mr < mc; r++ {
					apan := part.ap[r*kc*mr : (r+1)*kc*mr]
					i := ic + r*mr
					rows := min(mr, ic+mc-i)
					if rows == mr && cols == nr {
						kern.fn(kc, &apan[0], &bpan[0], &g.c[i*g.ldc+j], g.ldc, g.alpha, g.betaBlk)
						continue
					}
					// An edge tile: compute it whole into the scratch tile
					// and copy out the part inside C.
					kern.fn(kc, &apan[0], &bpan[0], &part.tile[0], nr, 1, 0)
					for ii := 0; ii < rows; ii++ {
						crow := g.c[(i+ii)*g.ldc+j:][:cols]
						trow := part.tile[ii*nr:][:cols]
						if g.betaBlk == 0 {
							for jj, v := range trow {
								crow[jj] = g.alpha * v
							}
						} else {
							for jj, v := range trow {
								crow[jj] = g.alpha*v + g.betaBlk*crow[jj]
							}
						}
					}
				}
			}
		}
	}
}
