package kernels

import (
	"runtime"

	"github.com/vmdls-go/vmdls/parallel"
)

// The weight gradient of a 3×3 stride-1 convolution by Winograd
// F(2×2, 3×3), the transpose of the forward algorithm. The forward output
// tile y = Aᵀ [(G w Gᵀ) ⊙ (Bᵀ d B)] A is bilinear in the filter w and the
// input tile d, so for the output gradient g of that tile
//
//	<g, y> = <A g Aᵀ, (G w Gᵀ) ⊙ (Bᵀ d B)> = <Gᵀ [(A g Aᵀ) ⊙ (Bᵀ d B)] G, w>
//
// and the tile's contribution to dW is Gᵀ [(A g Aᵀ) ⊙ (Bᵀ d B)] G. The
// outer transform commutes with the sum over tiles and images, so
//
//	dW[k,c] = Gᵀ M[·][k,c] G,  M[ξ] (K×C) = Σ_t U[ξ][k,t] V[ξ][c,t]
//
// with V[ξ] = (Bᵀ d B)[ξ] the forward's input transform of the same 4×4
// tiles of the padded input (winoIn2 and its assembly, unchanged) and
// U[ξ] = (A g Aᵀ)[ξ] the 2×2 tiles of dY taken to 4×4 by A (adds only,
// winoGrad2). Each of the 16 M[ξ] is one SGEMM, U[ξ] · V[ξ]ᵀ, of depth T
// (the tiles of a block), against im2col's one of K × 9C × N·OH·OW: 16/9
// of the multiply-adds per pair of output pixels instead of 4, 2.25×
// fewer. Tiles past the edge of an odd OH or OW read dY as zero (their
// input rows, staged with zeros, are finite), so they add nothing.
//
// Blocks of whole images or of tile rows of one image (winoDWPlan) keep a
// block's U and V to winoDWBlockFloats; the blocks are spread over the
// worker pool in contiguous runs, each run accumulating a private M with
// single-threaded SGEMMs (beta = 1 after its first block), and the runs'
// Ms are added in the order of the runs, in float64, while the outer
// transform (also float64) writes dW. The result depends on Threads (the
// runs), never on timing.
//
// Accuracy (TestWinogradDWError: normwise max|err|/max|ref| against a
// float64 direct weight gradient, N(0, 1) data, batch 2, 12×12 maps, 32
// filters): F(2×2) 2.7e-7 to 2.9e-7 at 16 to 256 channels, im2col 5.1e-7
// to 7.3e-7 on the same data.
//
// Speed (BenchmarkConv2dDWPaths, batch 32, 2 workers, least of 3 calls,
// on a quiet 2-core Intel Xeon (Sapphire Rapids); im2col time / Winograd
// time, AVX2 then AVX-512): mnist 100→100 28×28 1.57, 1.44; resnet 64
// 32×32 1.75, 1.56; 128 16×16 1.84, 1.68; 256 8×8 1.76, 1.54; 512 4×4
// 1.09, 0.99; wresnet 160 32×32 1.83, 1.75; 320 16×16 1.92, 1.77; 640
// 8×8 1.88, 1.61. Conv2dBackward takes it where winoFor's cost model
// (winoCosts.winogradDW) estimates it faster, per shape and per
// power-of-two batch: first layers of one to three channels pad the
// products' panels many times over, and a batch of one on small maps
// makes products a few tiles deep, so both stay on im2col.

// winoDWBlockFloats bounds a block's U and V together, in floats (8 MiB):
// the products' depth is the block's tiles, and with hundreds of channels
// each way the private M (16·K·C) is read and written once per block, so
// deep blocks pay for themselves, while shallow maps of few channels stay
// within the outer caches.
var winoDWBlockFloats = 1 << 21

// winoDWMinTiles and winoDWMaxTiles bound the tiles of a block: below
// the first the products are too shallow for M's traffic, past the second
// there is nothing left to amortise.
var (
	winoDWMinTiles = 256
	winoDWMaxTiles = 2048
)

// winoDWPlan is the blocking of one Winograd weight-gradient call on the
// convolution winoShape (x N×C×H×W, dy N×K×OH×OW).
type winoDWPlan struct {
	winoShape
	tilesY, tilesX int
	// Blocks: imgs whole images at a time, or (imgs == 1) rows tile rows.
	imgs, rows, perImg, nblocks int
	maxT, ldT                   int  // tiles of the largest block, row stride of U[ξ] and V[ξ]
	vs, us, ms                  int  // floats per ξ of V, U and M
	direct                      bool // OH and OW even: U's tiles are read from dy in place
	serial                      bool // one run over every block, its products on all workers
}

// runChunk returns the blocks per run on threads workers (the chunks
// parallel.For makes of them) and the number of runs, each with its own M.
func (p *winoDWPlan) runChunk(threads int) (chunk, runs int) {
	if p.serial {
		return p.nblocks, 1
	}
	n := min(p.nblocks, threads, parallel.MaxChunks)
	chunk = (p.nblocks + n - 1) / n
	return chunk, (p.nblocks + chunk - 1) / chunk
}

func newWinoDWPlan(s winoShape, threads int) *winoDWPlan {
	p := &winoDWPlan{winoShape: s}
	p.tilesY, p.tilesX = (s.OH+1)/2, (s.OW+1)/2
	p.direct = s.OH%2 == 0 && s.OW%2 == 0
	tpi := p.tilesY * p.tilesX
	limit := winoDWBlockFloats / (16 * (s.C + s.K))
	limit = max(winoDWMinTiles, min(limit, winoDWMaxTiles))
	// Enough blocks for every worker, unless that would make them
	// shallower than winoDWMinTiles: then one run takes every block and
	// its products use all the workers.
	if total := s.N * tpi; threads > 1 && total/threads < limit {
		if total/threads >= winoDWMinTiles {
			limit = (total + threads - 1) / threads
		} else {
			p.serial = true
		}
	}
	if tpi <= limit {
		p.imgs = max(1, min(s.N, limit/tpi))
		ng := (s.N + p.imgs - 1) / p.imgs
		p.imgs = (s.N + ng - 1) / ng
		p.rows, p.perImg, p.nblocks = p.tilesY, 1, ng
	} else {
		p.imgs = 1
		p.rows = max(1, limit/p.tilesX)
		p.perImg = (p.tilesY + p.rows - 1) / p.rows
		p.rows = (p.tilesY + p.perImg - 1) / p.perImg
		p.nblocks = s.N * p.perImg
	}
	p.maxT = p.imgs * p.rows * p.tilesX
	p.ldT = winoStride(p.maxT)
	p.vs = winoStride(s.C * p.ldT)
	p.us = winoStride(s.K * p.ldT)
	p.ms = winoStride(s.K * s.C)
	return p
}

// block returns the images [n0, n0+gn) and tile rows [ty0, ty1) of block b.
func (p *winoDWPlan) block(b int) (n0, gn, ty0, ty1 int) {
	if p.perImg == 1 {
		n0 = b * p.imgs
		return n0, min(p.imgs, p.N-n0), 0, p.tilesY
	}
	n0 = b / p.perImg
	ty0 = (b % p.perImg) * p.rows
	return n0, 1, ty0, min(p.tilesY, ty0+p.rows)
}

// winoDWScratch is a run's buffers, sized for the largest block.
type winoDWScratch struct {
	stage, gstage, v, u []float32
	offs, goffs         []int32
}

// winoDWFree recycles the runs' scratch records and their offset tables.
var winoDWFree = make(chan *winoDWScratch, 2*maxFreeScratch)

func (p *winoDWPlan) getScratch() *winoDWScratch {
	var sc *winoDWScratch
	select {
	case sc = <-winoDWFree:
	default:
		sc = &winoDWScratch{}
	}
	rows, cols := p.rows*2+2, p.tilesX*2+2
	sc.stage = getScratch(p.imgs * p.C * rows * cols)
	sc.gstage = nil
	if !p.direct {
		sc.gstage = getScratch(p.imgs * p.K * p.rows * 2 * p.tilesX * 2)
	}
	sc.v = getScratch(16 * p.vs)
	sc.u = getScratch(16 * p.us)
	n := (p.maxT + 15) / 16 * 16
	if cap(sc.offs) < n {
		sc.offs, sc.goffs = make([]int32, n), make([]int32, n)
	}
	sc.offs, sc.goffs = sc.offs[:n], sc.goffs[:n]
	return sc
}

func (p *winoDWPlan) putScratch(sc *winoDWScratch) {
	putScratch(sc.stage)
	putScratch(sc.v)
	putScratch(sc.u)
	if sc.gstage != nil {
		putScratch(sc.gstage)
	}
	sc.stage, sc.gstage, sc.v, sc.u = nil, nil, nil, nil
	select {
	case winoDWFree <- sc:
	default:
	}
}

// runBlock adds block b's products U[ξ]·V[ξ]ᵀ into mm (16 K×C matrices,
// ms apart), overwriting it when first; they run on kern with threads
// workers.
func (p *winoDWPlan) runBlock(sc *winoDWScratch, b int, mm, dy, x []float32, first bool, kern *microKernel, threads int) {
	C, K := p.C, p.K
	n0, gn, ty0, ty1 := p.block(b)
	rows, cols := (ty1-ty0)*2+2, p.tilesX*2+2
	plane := rows * cols
	T := gn * (ty1 - ty0) * p.tilesX
	tpad := (T + 15) / 16 * 16

	// Stage the padded input rows the block's tiles read.
	stage := sc.stage[:gn*C*plane]
	p.stageInput(stage, x, n0, gn, ty0*2, rows, cols)
	// dy's tiles in place, or (odd OH or OW) from a copy of the block's
	// rows padded with zeros to whole tiles.
	ohw := p.OH * p.OW
	grows, gcols := (ty1-ty0)*2, p.tilesX*2
	g, ldg, kstride := dy[n0*K*ohw:], p.OW, ohw
	if !p.direct {
		g, ldg, kstride = sc.gstage, gcols, grows*gcols
		for bi := 0; bi < gn; bi++ {
			for k := 0; k < K; k++ {
				src := dy[((n0+bi)*K+k)*ohw:][:ohw]
				dst := sc.gstage[(bi*K+k)*kstride:][:kstride]
				for r := 0; r < grows; r++ {
					drow := dst[r*gcols : (r+1)*gcols]
					oy := ty0*2 + r
					if oy >= p.OH {
						clear(drow)
						continue
					}
					copy(drow, src[oy*p.OW:(oy+1)*p.OW])
					clear(drow[p.OW:])
				}
			}
		}
	}

	// Lane offsets of tile t into the staged input (offs) and into g
	// (goffs); lanes past T, there to fill the assembly's registers,
	// repeat tile 0 and are never multiplied.
	offs, goffs := sc.offs[:tpad], sc.goffs[:tpad]
	t := 0
	for bi := 0; bi < gn; bi++ {
		for ty := ty0; ty < ty1; ty++ {
			for tx := 0; tx < p.tilesX; tx++ {
				offs[t] = int32(bi*C*plane + (ty-ty0)*2*cols + tx*2)
				if p.direct {
					goffs[t] = int32(bi*K*ohw + ty*2*p.OW + tx*2)
				} else {
					goffs[t] = int32(bi*K*kstride + (ty-ty0)*2*gcols + tx*2)
				}
				t++
			}
		}
	}
	for ; t < tpad; t++ {
		offs[t], goffs[t] = offs[0], goffs[0]
	}

	// V[ξ] (C×T) and U[ξ] (K×T), rows ldT apart.
	v, u := sc.v[:16*p.vs], sc.u[:16*p.us]
	for c := 0; c < C; c++ {
		winoIn2(v[c*p.ldT:], p.vs, stage[c*plane:], offs, cols)
	}
	for k := 0; k < K; k++ {
		winoGrad2(u[k*p.ldT:], p.us, g[k*kstride:], goffs, ldg)
	}
	var beta float32 = 1
	if first {
		beta = 0
	}
	for xi := 0; xi < 16; xi++ {
		sgemmWith(kern, threads, false, true, K, C, T, 1, u[xi*p.us:], p.ldT, v[xi*p.vs:], p.ldT, beta, mm[xi*p.ms:], C)
	}
}

// winoWeightGrad computes dw (K×C×3×3) of the convolution s (which
// winoApplies to) from dy and x by Winograd F(2×2, 3×3).
func winoWeightGrad(s ConvShape, dw, dy, x []float32) {
	ws := winoShape{N: s.N, C: s.C, H: s.H, W: s.W, K: s.K, PH: s.PH, PW: s.PW, OH: s.OutH(), OW: s.OutW()}
	threads := parallel.Threads()
	p := newWinoDWPlan(ws, threads)
	kern := sgemmKernel()
	chunk, runs := p.runChunk(threads)
	// Run i writes mms[i] alone, so the sum below adds them in a fixed
	// order whatever the timing.
	mms := make([][]float32, runs)
	run := func(lo, hi int) {
		gt := 1
		if lo == 0 && hi == p.nblocks {
			gt = min(threads, runtime.GOMAXPROCS(0))
		}
		sc := p.getScratch()
		defer p.putScratch(sc)
		mm := getScratch(16 * p.ms)
		for b := lo; b < hi; b++ {
			p.runBlock(sc, b, mm, dy, x, b == lo, kern, gt)
		}
		mms[lo/chunk] = mm
	}
	if p.serial {
		run(0, p.nblocks)
	} else {
		parallel.For(p.nblocks, 1, run)
	}
	K, C := p.K, p.C
	parallel.For(K*C, max(1, planeGrain/(16*runs)), func(lo, hi int) {
		var m [16]float64
		for kc := lo; kc < hi; kc++ {
			for xi := range m {
				var sum float64
				for _, mm := range mms {
					sum += float64(mm[xi*p.ms+kc])
				}
				m[xi] = sum
			}
			winoDWOut2(dw[kc*9:kc*9+9], &m)
		}
	})
	for _, mm := range mms {
		putScratch(mm)
	}
}

// winoDWOut2 sets the 3×3 filter gradient w = Gᵀ m G of F(2×2, 3×3), in
// float64, for the 4×4 m (row-major).
func winoDWOut2(w []float32, m *[16]float64) {
	// gt applies Gᵀ = [1 ½ ½ 0; 0 ½ -½ 0; 0 ½ ½ 1] to a 4-vector.
	gt := func(a, b, c, d float64) (float64, float64, float64) {
		s := (b + c) / 2
		return a + s, (b - c) / 2, s + d
	}
	var t [3][4]float64 // Gᵀ m
	for j := 0; j < 4; j++ {
		t[0][j], t[1][j], t[2][j] = gt(m[j], m[4+j], m[8+j], m[12+j])
	}
	w = w[:9]
	for i := 0; i < 3; i++ {
		a, b, c := gt(t[i][0], t[i][1], t[i][2], t[i][3])
		w[i*3], w[i*3+1], w[i*3+2] = float32(a), float32(b), float32(c)
	}
}

// winoGrad2Generic sets u[ξ*us + j] = (A g_j Aᵀ)[ξ] for each lane j <
// len(offs), where g_j is the 2×2 tile of g at offs[j] with row stride
// ldg and A = [1 0; 1 1; 1 -1; 0 -1] is Aᵀ of F(2×2, 3×3) transposed: the
// output gradient's transform of the Winograd weight gradient.
func winoGrad2Generic(u []float32, us int, g []float32, offs []int32, ldg int) {
	if len(offs) == 0 {
		return
	}
	u = u[:15*us+len(offs)]
	for j, o := range offs {
		r0 := g[int(o):][:2]
		r1 := g[int(o)+ldg:][:2]
		a, b, c, d := r0[0], r0[1], r1[0], r1[1]
		// Rows of A g: (a, b), (a+c, b+d), (a-c, b-d), (-c, -d); each row
		// (p, q) then becomes (p, p+q, p-q, -q).
		rows := [4][2]float32{{a, b}, {a + c, b + d}, {a - c, b - d}, {-c, -d}}
		for i, r := range rows {
			p, q := r[0], r[1]
			u[(i*4)*us+j] = p
			u[(i*4+1)*us+j] = p + q
			u[(i*4+2)*us+j] = p - q
			u[(i*4+3)*us+j] = -q
		}
	}
}

// winoGrad2 is winoGrad2Generic, the transform of the output gradient's
// tiles, in assembly where the lanes fill whole registers and every tile
// lies inside g.
func winoGrad2(u []float32, us int, g []float32, offs []int32, ldg int) {
	if n := len(offs); useAVX2 && n > 0 && n%8 == 0 && len(u) >= 15*us+n && offsIn(offs, len(g)-ldg-1) {
		winoGrad2AVX2(&u[0], us, &g[0], &offs[0], n, ldg)
		return
	}
	winoGrad2Generic(u, us, g, offs, ldg)
}
