package kernels

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/vmdls-go/vmdls/parallel"
)

// Winograd convolution for 3×3 stride-1 filters, F(m×m, 3×3): each m×m
// tile of the output is computed from an α×α (α = m+2) tile of the input as
//
//	Y = Aᵀ [ Σ_c (G g_kc Gᵀ) ⊙ (Bᵀ d_c B) ] A
//
// so the C·K·9 multiply-adds per output pixel of the direct form become
// C·K·α²/m² in the transformed domain (2.25× fewer for m = 2, 4× for m = 4)
// plus transforms that cost O(C+K) per tile. For every one of the α²
// transformed positions ξ the sum over channels is a matrix product
// M[ξ] (K×T) = U[ξ] (K×C) · V[ξ] (C×T) over a block of T tiles, run on
// the SGEMM micro-kernel.
//
// Layout. U is packed once per call in the micro-kernel's A-panel format
// (mr filters × C, element (k, c) at c*mr + k%mr) and V is written by the
// input transform directly in its B-panel format (C × nr tiles), so the
// products need no packing at all: U[ξ] and V[ξ] are read as they are, and
// M comes out as rows of tiles. The transforms therefore work on "lanes" of
// consecutive tiles of one panel, each tile found through a per-lane offset
// into a zero-padded copy (staging) of the input rows the block needs; the
// output transform writes each lane's m×m pixels through a second table of
// offsets, fusing the bias and the ReLU.
//
// Blocks. Tiles are numbered image by image, row by row. A block is either
// several whole images (small maps) or a run of tile rows of one image
// (large maps), sized so that its V and M stay within winoBlockFloats; the
// blocks are spread over the worker pool, and each block's α² products run
// single-threaded on the worker that transformed its input, whose caches
// still hold V. U is shared read-only.
//
// The input gradient of a stride-1 3×3 convolution is itself one (of dy,
// with the filters rotated by 180°, input and output channels swapped and
// padding 2-P), so it runs on the same code. The weight gradient, the
// transpose of the forward algorithm, has its own blocking and products
// (winograd_dw.go), for F(2×2, 3×3) only.
//
// Choice. For each layer shape (N aside), product (forward, forward-only,
// input or weight gradient) and kernel path, a cost model (winoModel, its
// constants measured on this machine) picks im2col or F(2×2, 3×3) (or,
// for a forward-only pass and the input gradient, F(4×4, 3×3)), whichever
// it estimates faster, and the choice is cached.
// It does not look at the batch size or the number of workers, so an
// image's result does not depend on what it is batched with (chunked
// inference matches one pass bit for bit), nor on Threads. The price: the
// model assumes a batch of winoModelBatch, and at a batch of one a small
// map with hundreds of channels (512 at 4×4) runs several times slower
// than im2col would, mostly in the filter transform that a batch would
// share; VMDLS_CONV=im2col restores im2col everywhere.
//
// Accuracy (TestWinogradError: normwise max|err|/max|ref| against a
// float64 direct convolution, N(0, 1) data and filters, 16 to 256
// channels, forward and input gradient): im2col 1.4e-7 to 5e-7, F(2×2)
// 1.8e-7 to 5.5e-7, F(4×4) 8e-7 to 2.1e-6 (on points 0, ±2/3, ±4/3; the
// usual 0, ±1, ±2 measured 3.3 to 4 times more), F(6×6) 5e-6 to 1.1e-5.
// F(4×4) is 1.2 to 1.6 times faster than F(2×2) on the backbone layers,
// but its error, though harmless to training, moves ReLU inputs within
// ~1e-6 of zero across it in the train-mode backbone goldens (nn/backbone
// backbones_ab: batch 2, batch norm, no ReLU-kink replay), which then
// fail their 1e-3 gradient bound; F(2×2), as accurate as im2col, passes
// every golden. So F(2×2) is the automatic choice for a forward pass that
// gradients will flow back through, and F(4×4) competes with it in
// forward-only passes (ConvShape.ForwardOnly: inference, autograd.NoGrad),
// where 2e-6 is far inside the goldens' 1e-4 forward bound, and in the
// input gradient, whose error moves no ReLU mask (the masks come from the
// forward): with it the train-mode goldens' worst gradient error is 4e-6
// against their 1e-3 bound. The weight gradient stays F(2×2) or im2col
// (winograd_dw.go). VMDLS_CONV=winograd4 forces F(4×4) everywhere it
// exists. F(6×6) has Go transforms only and is not offered.

// EnvConv names the environment variable that forces the convolution
// algorithm for the 3×3 stride-1 layers Winograd applies to: "im2col",
// "winograd" (F(2×2, 3×3)) or "winograd4" (F(4×4, 3×3)); "auto", or
// unset, lets the per-shape cost model choose between im2col and
// F(2×2, 3×3). Other layers always use im2col.
const EnvConv = "VMDLS_CONV"

// convPath is the algorithm choice in force: convAuto, convIm2col,
// convWinograd or convWinograd4. It is read at start-up from EnvConv and
// changed only by SetConvPath.
var convPath = parseConvPath(os.Getenv(EnvConv))

const (
	convAuto = iota
	convIm2col
	convWinograd
	convWinograd4
)

var convPathNames = []string{convAuto: "auto", convIm2col: "im2col", convWinograd: "winograd", convWinograd4: "winograd4"}

func parseConvPath(v string) int {
	v = strings.ToLower(strings.TrimSpace(v))
	for i, n := range convPathNames {
		if v == n {
			return i
		}
	}
	return convAuto
}

// ConvPath names the convolution algorithm choice in force: "auto" (the
// per-shape cost model), or one forced for the 3×3 stride-1 layers where
// Winograd applies: "im2col", "winograd" or "winograd4".
func ConvPath() string { return convPathNames[convPath] }

// SetConvPath forces the convolution algorithm, for tests and
// comparisons: "auto", "im2col", "winograd" or "winograd4", as EnvConv. It
// returns the previous ConvPath and fails, changing nothing, for an
// unknown name. It is not safe to call while convolutions run on other
// goroutines.
func SetConvPath(name string) (prev string, err error) {
	prev = ConvPath()
	for i, n := range convPathNames {
		if strings.EqualFold(name, n) {
			convPath = i
			return prev, nil
		}
	}
	return prev, fmt.Errorf("kernels: unknown convolution path %q (want auto, im2col, winograd or winograd4)", name)
}

// winoTile is one tile size F(m×m, 3×3) with its transforms. The input
// and output transforms work on one panel of lanes (tiles) of one channel:
// they are the pure-Go twins, or the assembly where the path has it.
type winoTile struct {
	m, alpha int
	// filter sets u[ξ*us] = (G g Gᵀ)[ξ] for the 3×3 filter g (row-major),
	// computed in float64.
	filter func(u []float32, us int, g *[9]float64)
	// in sets v[ξ*vs+j] = (Bᵀ d_j B)[ξ] for each lane j < len(offs), where
	// d_j is the α×α tile of x starting at offs[j] with row stride ldx.
	in func(v []float32, vs int, x []float32, offs []int32, ldx int)
	// out sets the m×m pixels y[offs[j] + r*ldy + c] of lane j to
	// (Aᵀ M_j A)[r][c] + bias, through reluF if relu, where M_j's element
	// ξ is mm[ξ*ms+j].
	out func(y []float32, ldy int, offs []int32, mm []float32, ms int, bias float32, relu bool)
}

// winoBlockFloats bounds a block's transformed input and output (V and M),
// in floats (4 MiB): small enough to stay in the outer caches between the
// transforms and the products, large enough that the products reuse each
// panel of U over many tiles.
var winoBlockFloats = 1 << 20

// winoMaxTiles caps the tiles of a block; past this, U (streamed once per
// block) is already well amortised.
var winoMaxTiles = 512

// winoMinTiles is the least number of panels of tiles a block gets, even
// past winoBlockFloats: with hundreds of channels each way U is megabytes,
// read once per block, and a block of one panel would be bound by that.
const winoMinTiles = 4

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// winoStride returns the distance to put between the α² matrices (or the
// rows) of n floats that a transform or the micro-kernel touches in step:
// at least n, a whole number of 64-byte lines, and an odd one, so that no
// two of up to 64 streams fall into the same set of a 4 KiB-indexed L1 (a
// stride of a multiple of 4 KiB would put all 36 of F(4×4)'s in one set
// of 12 ways, and every store would miss).
func winoStride(n int) int {
	q := (n + 15) / 16
	return (q | 1) * 16
}

// winoShape is the convolution a Winograd call computes: x N×C×H×W with
// zero padding PH, PW into y N×K×OH×OW, 3×3 filters, stride 1.
type winoShape struct {
	N, C, H, W, K, PH, PW int
	OH, OW                int
}

// winoPlan is the blocking of one call.
type winoPlan struct {
	winoShape
	t              *winoTile
	kern           *microKernel
	tilesY, tilesX int
	rp             int // panels of mr filters
	kc             int // depth of the products' channel blocks
	// Blocks: imgs whole images at a time, or (imgs == 1) rows tile rows.
	imgs, rows, perImg, nblocks int
	maxT, maxTpad               int
	direct                      bool // output tiles fit y exactly: no output staging
	ustride                     int  // floats per ξ in U
}

func newWinoPlan(s winoShape, t *winoTile, threads int) *winoPlan {
	p := &winoPlan{winoShape: s, t: t, kern: winoKernel(s.K)}
	m, a2 := t.m, t.alpha*t.alpha
	mr, nr := p.kern.mr, p.kern.nr
	p.tilesY, p.tilesX = (s.OH+m-1)/m, (s.OW+m-1)/m
	p.rp = (s.K + mr - 1) / mr
	p.ustride = winoStride(p.rp * mr * s.C)
	p.kc = evenBlock(s.C, p.kern.blk.kcWinograd, 8)
	p.direct = s.OH%m == 0 && s.OW%m == 0
	tpi := p.tilesY * p.tilesX
	limit := winoBlockFloats / (a2 * (s.C + p.rp*mr))
	limit = max(winoMinTiles*nr, min(limit, winoMaxTiles))
	// Enough blocks for every worker when the batch allows.
	if total := s.N * tpi; threads > 1 && total/threads < limit {
		limit = max(nr, (total+threads-1)/threads)
	}
	if tpi <= limit {
		p.imgs = max(1, min(s.N, limit/tpi))
		// Small maps: whole panels of tiles (4x4 maps in F2 have 4 tiles
		// each, so blocks of 11 images would leave 20 of 64 lanes idle).
		// Otherwise, blocks of even size rather than a small last one.
		if q := nr / gcd(tpi, nr); tpi < nr && p.imgs >= q {
			p.imgs = p.imgs / q * q
		} else {
			ng := (s.N + p.imgs - 1) / p.imgs
			p.imgs = (s.N + ng - 1) / ng
		}
		p.rows, p.perImg, p.nblocks = p.tilesY, 1, (s.N+p.imgs-1)/p.imgs
	} else {
		p.imgs = 1
		p.rows = max(1, limit/p.tilesX)
		p.perImg = (p.tilesY + p.rows - 1) / p.rows
		p.rows = (p.tilesY + p.perImg - 1) / p.perImg
		p.nblocks = s.N * p.perImg
	}
	p.maxT = p.imgs * p.rows * p.tilesX
	p.maxTpad = (p.maxT + nr - 1) / nr * nr
	return p
}

// winoKernel returns the micro-kernel of the current path for K filters:
// of the ones with the same panel width, the one that pads K least (the
// 12-row AVX-512 kernel wastes 8 rows of 72 on K = 64 where the 14-row one
// wastes 6 of 70, but 4 of 132 on K = 128 against 12 of 140).
func winoKernel(K int) *microKernel {
	k := sgemmKernel()
	pad := func(m *microKernel) int { return (K+m.mr-1)/m.mr*m.mr - K }
	for _, alt := range asmKernelsList {
		if alt.nr == k.nr && alt != k && pad(alt) < pad(k) {
			k = alt
		}
	}
	return k
}

// block returns the images [n0, n0+gn) and tile rows [ty0, ty1) of block b.
func (p *winoPlan) block(b int) (n0, gn, ty0, ty1 int) {
	if p.perImg == 1 {
		n0 = b * p.imgs
		return n0, min(p.imgs, p.N-n0), 0, p.tilesY
	}
	n0 = b / p.perImg
	ty0 = (b % p.perImg) * p.rows
	return n0, 1, ty0, min(p.tilesY, ty0+p.rows)
}

// stagedRows and stagedCols are the size of a block's staged input plane.
func (p *winoPlan) stagedRows(ty0, ty1 int) int { return (ty1-ty0)*p.t.m + 2 }
func (p *winoPlan) stagedCols() int             { return p.tilesX*p.t.m + 2 }

// packFilters transforms the filters into U (α² × rp panels × C × mr).
// With flip, filter (k, c) is w's filter (c, k) rotated by 180° (w then
// holds C filters of K channels): the filters of the input gradient.
func (p *winoPlan) packFilters(u, w []float32, flip bool) {
	mr := p.kern.mr
	a2 := p.t.alpha * p.t.alpha
	C, K := p.C, p.K
	parallel.For(p.rp, max(1, planeGrain/(mr*C*a2)), func(lo, hi int) {
		var g [9]float64
		for r := lo; r < hi; r++ {
			// Channel by channel, the panel's mr filters: each of the α²
			// matrices then gets mr consecutive floats.
			for c := 0; c < C; c++ {
				for i := 0; i < mr; i++ {
					k := r*mr + i
					base := r*C*mr + c*mr + i
					if k >= K {
						for x := 0; x < a2; x++ {
							u[x*p.ustride+base] = 0
						}
						continue
					}
					if flip {
						src := w[(c*K+k)*9 : (c*K+k)*9+9]
						for x := range g {
							g[x] = float64(src[8-x])
						}
					} else {
						src := w[(k*C+c)*9 : (k*C+c)*9+9]
						for x := range g {
							g[x] = float64(src[x])
						}
					}
					switch p.t.m {
					case 2:
						winoFilter2(u[base:], p.ustride, &g)
					case 4:
						winoFilter4(u[base:], p.ustride, &g)
					default:
						p.t.filter(u[base:], p.ustride, &g)
					}
				}
			}
		}
	})
}

// winoScratch is a worker's buffers, sized for the largest block.
type winoScratch struct {
	stage, v, mm, ystage []float32
	offs, yoffs          []int32
}

// winoFree recycles the workers' scratch records and their offset tables,
// so that steady-state calls allocate only what the pool's closures do.
var winoFree = make(chan *winoScratch, 2*maxFreeScratch)

func (p *winoPlan) getScratch() *winoScratch {
	a2 := p.t.alpha * p.t.alpha
	mr := p.kern.mr
	var sc *winoScratch
	select {
	case sc = <-winoFree:
	default:
		sc = &winoScratch{}
	}
	sc.stage = getScratch(p.imgs * p.C * p.stagedRows(0, p.rows) * p.stagedCols())
	sc.v = getScratch(a2 * winoStride(p.C*p.maxTpad))
	sc.mm = getScratch(a2 * winoStride(p.rp*mr*winoStride(p.maxTpad)))
	if cap(sc.offs) < p.maxTpad {
		sc.offs, sc.yoffs = make([]int32, p.maxTpad), make([]int32, p.maxTpad)
	}
	sc.offs, sc.yoffs = sc.offs[:p.maxTpad], sc.yoffs[:p.maxTpad]
	sc.ystage = nil
	if !p.direct {
		sc.ystage = getScratch(p.imgs * p.K * p.rows * p.t.m * p.tilesX * p.t.m)
	}
	return sc
}

func (p *winoPlan) putScratch(sc *winoScratch) {
	putScratch(sc.stage)
	putScratch(sc.v)
	putScratch(sc.mm)
	if sc.ystage != nil {
		putScratch(sc.ystage)
	}
	sc.stage, sc.v, sc.mm, sc.ystage = nil, nil, nil, nil
	select {
	case winoFree <- sc:
	default:
	}
}

// run computes y from x with the packed filters u, over the worker pool.
func (p *winoPlan) run(y, x, u, bias []float32, relu bool) {
	parallel.For(p.nblocks, 1, func(lo, hi int) {
		sc := p.getScratch()
		defer p.putScratch(sc)
		for b := lo; b < hi; b++ {
			p.runBlock(sc, b, y, x, u, bias, relu)
		}
	})
}

// runBlock computes the output tiles of block b.
func (p *winoPlan) runBlock(sc *winoScratch, b int, y, x, u, bias []float32, relu bool) {
	m, a2 := p.t.m, p.t.alpha*p.t.alpha
	mr, nr := p.kern.mr, p.kern.nr
	C, K := p.C, p.K
	n0, gn, ty0, ty1 := p.block(b)
	rows, cols := p.stagedRows(ty0, ty1), p.stagedCols()
	plane := rows * cols
	T := gn * (ty1 - ty0) * p.tilesX
	tpad := (T + nr - 1) / nr * nr
	npan := tpad / nr

	// Stage the padded input rows the block reads: staged row r of image
	// bi is input row ty0*m + r - PH.
	stage := sc.stage[:gn*C*plane]
	p.stageInput(stage, x, n0, gn, ty0*m, rows, cols)

	// Lane offsets: tile t of the block reads the staging at offs[t] and
	// writes y (or the output staging) at yoffs[t]. Padding lanes of the
	// last panel repeat tile 0; their products are never written out.
	ohw := p.OH * p.OW
	yrows, ycols := (ty1-ty0)*m, p.tilesX*m
	offs, yoffs := sc.offs[:tpad], sc.yoffs[:tpad]
	t := 0
	for bi := 0; bi < gn; bi++ {
		for ty := ty0; ty < ty1; ty++ {
			for tx := 0; tx < p.tilesX; tx++ {
				offs[t] = int32(bi*C*plane + (ty-ty0)*m*cols + tx*m)
				if p.direct {
					yoffs[t] = int32(bi*K*ohw + ty*m*p.OW + tx*m)
				} else {
					yoffs[t] = int32(bi*K*yrows*ycols + (ty-ty0)*m*ycols + tx*m)
				}
				t++
			}
		}
	}
	for ; t < tpad; t++ {
		offs[t], yoffs[t] = offs[0], yoffs[0]
	}

	// V[ξ] in B-panel format: panel q, channel c, lane j at
	// ξ*vs + q*C*nr + c*nr + j.
	vs := winoStride(npan * C * nr)
	v := sc.v[:a2*vs]
	for q := 0; q < npan; q++ {
		o := offs[q*nr : (q+1)*nr]
		for c := 0; c < C; c++ {
			p.t.in(v[q*C*nr+c*nr:], vs, stage[c*plane:], o, cols)
		}
	}

	// M[ξ] = U[ξ]·V[ξ]: rp*mr rows (filters) of tpad columns (tiles).
	ldm := winoStride(tpad)
	ms := winoStride(p.rp * mr * ldm)
	mm := sc.mm[:a2*ms]
	fn := p.kern.fn
	for xi := 0; xi < a2; xi++ {
		uu := u[xi*p.ustride : (xi+1)*p.ustride]
		vv := v[xi*vs : (xi+1)*vs]
		mx := mm[xi*ms : (xi+1)*ms]
		for pc := 0; pc < C; pc += p.kc {
			kc := min(p.kc, C-pc)
			var beta float32
			if pc > 0 {
				beta = 1
			}
			for q := 0; q < npan; q++ {
				bp := &vv[q*C*nr+pc*nr]
				for r := 0; r < p.rp; r++ {
					fn(kc, &uu[r*C*mr+pc*mr], bp, &mx[r*mr*ldm+q*nr], ldm, 1, beta)
				}
			}
		}
	}

	// Output transform, lane by lane of valid tiles.
	yd, ldy, kstride := y[n0*K*ohw:], p.OW, ohw
	if !p.direct {
		yd, ldy, kstride = sc.ystage, ycols, yrows*ycols
	}
	for k := 0; k < K; k++ {
		var bk float32
		if bias != nil {
			bk = bias[k]
		}
		for q := 0; q < npan; q++ {
			nl := min(nr, T-q*nr)
			p.t.out(yd[k*kstride:], ldy, yoffs[q*nr:q*nr+nl], mm[k*ldm+q*nr:], ms, bk, relu)
		}
	}
	if p.direct {
		return
	}
	// Copy the valid part of the output staging into y.
	for bi := 0; bi < gn; bi++ {
		for k := 0; k < K; k++ {
			src := sc.ystage[(bi*K+k)*yrows*ycols:]
			dst := y[((n0+bi)*K+k)*ohw:]
			for r := 0; r < yrows; r++ {
				oy := ty0*m + r
				if oy >= p.OH {
					break
				}
				copy(dst[oy*p.OW:(oy+1)*p.OW], src[r*ycols:r*ycols+p.OW])
			}
		}
	}
}

// stageInput copies the input planes of images [n0, n0+gn) into stage,
// rows×cols each, zero-padded: staged row r, column j of a plane is input
// row y0+r-PH, column j-PW, or zero outside the input.
func (s *winoShape) stageInput(stage, x []float32, n0, gn, y0, rows, cols int) {
	plane := rows * cols
	for bi := 0; bi < gn; bi++ {
		for c := 0; c < s.C; c++ {
			src := x[((n0+bi)*s.C+c)*s.H*s.W:][:s.H*s.W]
			dst := stage[(bi*s.C+c)*plane:][:plane]
			for r := 0; r < rows; r++ {
				drow := dst[r*cols : (r+1)*cols]
				iy := y0 + r - s.PH
				if iy < 0 || iy >= s.H {
					clear(drow)
					continue
				}
				clear(drow[:s.PW])
				copy(drow[s.PW:], src[iy*s.W:(iy+1)*s.W])
				clear(drow[s.PW+s.W:])
			}
		}
	}
}

// winoForward computes the Winograd convolution s (which winoApplies to)
// of x with w into y, adding bias and applying the ReLU as Conv2d does.
func winoForward(t *winoTile, s ConvShape, y, x, w, bias []float32) {
	ws := winoShape{N: s.N, C: s.C, H: s.H, W: s.W, K: s.K, PH: s.PH, PW: s.PW, OH: s.OutH(), OW: s.OutW()}
	p := newWinoPlan(ws, t, parallel.Threads())
	u := getScratch(t.alpha * t.alpha * p.ustride)
	defer putScratch(u)
	p.packFilters(u, w, false)
	p.run(y, x, u, bias, s.ReLU)
}

// winoInputGrad computes dx for the convolution s from dy as the Winograd
// convolution of dy with the rotated, transposed filters.
func winoInputGrad(t *winoTile, s ConvShape, dx, dy, w []float32) {
	ws := winoShape{N: s.N, C: s.K, H: s.OutH(), W: s.OutW(), K: s.C, PH: s.KH - 1 - s.PH, PW: s.KW - 1 - s.PW, OH: s.H, OW: s.W}
	p := newWinoPlan(ws, t, parallel.Threads())
	u := getScratch(t.alpha * t.alpha * p.ustride)
	defer putScratch(u)
	p.packFilters(u, w, true)
	p.run(dx, dy, u, nil, false)
}

// winoApplies reports whether the convolution is one Winograd computes:
// 3×3 filters, stride 1, padding at most 2 (so that the input gradient's
// padding 2-P is not negative), at least one channel each way, and images
// small enough that the lane offsets into one image's planes (staged
// input, output) fit in int32.
func winoApplies(s *ConvShape) bool {
	if s.KH != 3 || s.KW != 3 || s.SH != 1 || s.SW != 1 || s.PH > 2 || s.PW > 2 ||
		s.C <= 0 || s.K <= 0 || s.N <= 0 || s.OutH() <= 0 || s.OutW() <= 0 {
		return false
	}
	// A tile-aligned plane, with its padding, is at most (H+8)×(W+8).
	return int64(max(s.C, s.K))*int64(s.H+8)*int64(s.W+8) < 1<<30
}

// winoChoice caches the per-shape decisions of the cost model.
var winoChoice sync.Map // winoKey -> *winoTile (nil: im2col)

type winoKey struct {
	s    ConvShape // with N = 0, ReLU and ForwardOnly false: op says the last
	op   winoOp
	path string
}

// winoOp is the product of a convolution that a choice is for.
type winoOp int

const (
	winoOpForward    winoOp = iota // y from x and w
	winoOpInputGrad                // dx from dy and w
	winoOpWeightGrad               // dw from dy and x
	winoOpInference                // y from x and w, no gradient taken through y (ForwardOnly)
)

// winoFor returns the tile size to compute op of s with, or nil for
// im2col, honouring winoForceTile (tests), then EnvConv/SetConvPath. The weight gradient exists for
// F(2×2, 3×3) only, so every forced tile size means F(2×2) for it.
func winoFor(s *ConvShape, op winoOp) *winoTile {
	if !winoApplies(s) {
		return nil
	}
	if op == winoOpForward && s.ForwardOnly {
		op = winoOpInference
	}
	forced := winoForceTile
	if forced == nil {
		switch convPath {
		case convIm2col:
			return nil
		case convWinograd:
			forced = winoF2
		case convWinograd4:
			forced = winoF4
		}
	}
	if forced != nil {
		if op == winoOpWeightGrad {
			return winoF2
		}
		return forced
	}
	key := winoKey{*s, op, Path()}
	key.s.N, key.s.ReLU, key.s.ForwardOnly = 0, false, false
	if op == winoOpWeightGrad {
		// The weight gradient sums over the batch, so no result need be
		// independent of it, and its products are only as deep as the
		// batch's tiles: its choice is made per power-of-two batch.
		key.s.N = 1
		for key.s.N < min(s.N, 1<<10) {
			key.s.N *= 2
		}
	}
	if v, ok := winoChoice.Load(key); ok {
		return v.(*winoTile)
	}
	t := winoModel(key.s, op)
	winoChoice.Store(key, t)
	return t
}

// winoModelBatch is the batch the cost model assumes: large enough that
// every path runs at its steady rate, so that the choice can ignore the
// actual batch.
const winoModelBatch = 32

// winoModel returns F(2×2, 3×3) for op of s if the cost model estimates
// it faster than im2col by winoMargin, from the costs measured on this
// path (winoCostTable), on one worker, for a batch of winoModelBatch (the
// forward and input gradient) or of s.N (the weight gradient); else nil.
// For a forward-only pass (winoOpInference) and the input gradient
// F(4×4, 3×3) is a candidate too, and the faster of the two tiles is
// compared with im2col.
func winoModel(s ConvShape, op winoOp) *winoTile {
	if op != winoOpWeightGrad || s.N < 1 {
		s.N = winoModelBatch
	}
	ws := winoShape{N: s.N, C: s.C, H: s.H, W: s.W, K: s.K, PH: s.PH, PW: s.PW, OH: s.OutH(), OW: s.OutW()}
	// im2col's input and weight gradients are products of the forward's
	// size on the forward's column matrix (folded back for dx).
	costs := winoCostTable[Path()]
	base := winoMargin * costs.im2col(ws, 1)
	// fastest is the faster tile for the Winograd convolution ws, and its
	// estimate: F(2×2), or F(4×4) too where op allows it.
	fastest := func(ws winoShape, f4 bool) (float64, *winoTile) {
		est := costs.winograd(ws, winoF2, 1)
		if e4 := costs.winograd(ws, winoF4, 1); f4 && e4 < est {
			return e4, winoF4
		}
		return est, winoF2
	}
	var est float64
	tile := winoF2
	switch op {
	case winoOpForward, winoOpInference:
		est, tile = fastest(ws, op == winoOpInference)
	case winoOpInputGrad:
		est, tile = fastest(winoShape{N: s.N, C: s.K, H: s.OutH(), W: s.OutW(), K: s.C, PH: 2 - s.PH, PW: 2 - s.PW, OH: s.H, OW: s.W}, true)
	case winoOpWeightGrad:
		est = costs.winogradDW(ws, 1)
	}
	if est > base {
		return nil
	}
	return tile
}

// winoMargin is how much faster than im2col the estimate of Winograd
// must be for the model to choose it: the estimates are rough (within
// 20-30% on the shapes of BenchmarkConv2dPaths), and where the two are
// close the exactness of im2col is worth more than a few percent.
const winoMargin = 0.8

// winoCosts are the measured costs, in nanoseconds, of the parts of a
// Winograd convolution and of im2col on one kernel path, on one core: the
// least times of BenchmarkWinogradParts and BenchmarkWinogradFilters on a
// Zen 5 (AVX-512; the AVX2 row with VMDLS_KERNELS=avx2 on the same
// machine), and im2col's terms fitted to BenchmarkConv2dPaths and
// BenchmarkConv2dAuto (within about 25% on their shapes, which span 12 to
// 640 filters; the machine was shared, so all of them are rough).
// The weight gradient's terms (dwTouch, dwCall, dwReduce) are fitted, by
// least squares with the other constants fixed, to one-worker
// BenchmarkConv2dDWPaths minima (GOMAXPROCS=1) of its 18 shapes on a
// 2-core Intel Xeon (Sapphire Rapids), on each path; the generic row
// borrows AVX2's and is not measured. The model then picks the faster
// path on 16 of the 18 on each (the misses: 16 channels at 16×16, where
// Winograd takes 1.05× (AVX2) and 1.2× (AVX-512) im2col's time, and 32
// channels at 7×7 on AVX2, where im2col takes 1.04× Winograd's).
type winoCosts struct {
	mac       float64    // a multiply-add of the micro-kernel at 64 or more deep
	in, out   [2]float64 // a tile-channel of the input transform, a tile-filter of the output one (F2, F4)
	filter    [2]float64 // a 3×3 filter's transform
	stage     float64    // an element of the staged input
	im2colMAC float64    // im2col's time per multiply-add over the micro-kernel's
	im2colCol float64    // im2col's time per element of the column matrix (unfolding, packing)
	overheadW float64    // fixed cost of a Winograd call
	// The weight gradient's own terms: an element of a run's 16 K×C
	// products M, read and written once per block (the products are only
	// as deep as a block's tiles, so for many channels on small maps this
	// traffic, not the multiply-adds, sets their speed); one of the
	// products' fixed cost; and an element of the runs' Ms summed and
	// taken back through the outer transform.
	dwTouch, dwCall, dwReduce float64
}

var winoCostTable = map[string]winoCosts{
	"avx512": {mac: 0.0093, in: [2]float64{3.7, 8.8}, out: [2]float64{1.8, 4.4}, filter: [2]float64{18, 42}, stage: 0.3, im2colMAC: 1.3, im2colCol: 0.7, overheadW: 5000,
		dwTouch: 1.2, dwCall: 5000, dwReduce: 0.25},
	"avx2-fma": {mac: 0.0184, in: [2]float64{4.4, 11.4}, out: [2]float64{2.1, 5.1}, filter: [2]float64{18, 42}, stage: 0.3, im2colMAC: 1.3, im2colCol: 0.7, overheadW: 5000,
		dwTouch: 2.2, dwCall: 5000, dwReduce: 0.25},
	"generic": {mac: 0.48, in: [2]float64{14, 42}, out: [2]float64{10.5, 31.5}, filter: [2]float64{18, 42}, stage: 0.5, im2colMAC: 1.1, im2colCol: 1.0, overheadW: 5000,
		dwTouch: 2.2, dwCall: 5000, dwReduce: 0.5},
}

// winograd estimates the time of the Winograd convolution ws with tile t
// on threads workers, as the blocks of newWinoPlan spread over them.
func (c winoCosts) winograd(ws winoShape, t *winoTile, threads int) float64 {
	p := newWinoPlan(ws, t, threads)
	i := t.m/2 - 1 // F2 -> 0, F4 -> 1
	tiles := float64(ws.N * p.tilesY * p.tilesX)
	padded := float64(p.nblocks * p.maxTpad)
	macs := float64(t.alpha*t.alpha*p.rp*p.kern.mr*ws.C) * padded
	staged := float64(ws.N*ws.C*p.stagedCols()*p.stagedRows(0, p.rows)) * float64(p.perImg)
	work := macs*c.mac + tiles*(float64(ws.C)*c.in[i]+float64(ws.K)*c.out[i]) + staged*c.stage
	return work/float64(min(threads, p.nblocks)) + float64(ws.K*ws.C)*c.filter[i]/float64(threads) + c.overheadW
}

// winogradDW estimates the time of the Winograd weight gradient of the
// convolution ws on threads workers, blocked as newWinoDWPlan does: the 16
// products of each block (K×C of depth the block's tiles, padded to the
// micro-kernel's panels), their Ms' traffic and fixed cost per call, the
// transforms, and the sum of the runs' Ms.
func (c winoCosts) winogradDW(ws winoShape, threads int) float64 {
	p := newWinoDWPlan(ws, threads)
	k := sgemmKernel()
	K, C := float64(ws.K), float64(ws.C)
	Kp, Cp := float64((ws.K+k.mr-1)/k.mr*k.mr), float64((ws.C+k.nr-1)/k.nr*k.nr)
	tiles := float64(ws.N * p.tilesY * p.tilesX)
	calls := 16 * float64(p.nblocks)
	staged := float64(ws.N*ws.C*(p.tilesX*2+2)*(p.rows*2+2)) * float64(p.perImg)
	// The output gradient's transform is adds only, as cheap per element
	// as the output transform of the forward.
	work := 16*Kp*Cp*tiles*c.mac + calls*(Kp*Cp*c.dwTouch+c.dwCall) +
		tiles*(C*c.in[0]+K*c.out[0]) + staged*c.stage
	_, runs := p.runChunk(threads)
	return work/float64(min(threads, p.nblocks)) + 16*K*C*float64(runs)*c.dwReduce/float64(threads) + c.overheadW
}

// im2col estimates the time of the same convolution by im2col: the
// product, and the column matrix, whose cost per multiply-add grows as the
// filters get fewer (DenseNet's 12).
func (c winoCosts) im2col(ws winoShape, threads int) float64 {
	cols := float64(ws.N*ws.C*9) * float64(ws.OH*ws.OW)
	return (cols*float64(ws.K)*c.mac*c.im2colMAC + cols*c.im2colCol) / float64(threads)
}

// winoForceTile, when set (by tests), is the tile size every layer
// Winograd applies to runs with, whatever convPath says.
var winoForceTile *winoTile

// winoLanes is the lanes of one vector register of the assembly
// transforms on the current path (0 on the generic path).
func winoLanes() int {
	switch {
	case useAVX512:
		return 16
	case useAVX2:
		return 8
	}
	return 0
}

// winoInAsm reports whether the assembly input transform of a tile of
// side alpha may run on these arguments: whole registers of lanes, and
// every tile and every output inside its slice.
func winoInAsm(alpha int, v []float32, vs int, x []float32, offs []int32, ldx int) bool {
	n, l := len(offs), winoLanes()
	if l == 0 || n == 0 || n%l != 0 || len(v) < (alpha*alpha-1)*vs+n {
		return false
	}
	return offsIn(offs, len(x)-(alpha-1)*ldx-(alpha-1))
}

// winoOutAsm is winoInAsm for the output transform of side m: it also
// reads M up to a whole register past the n lanes.
func winoOutAsm(m int, y []float32, ldy int, offs []int32, mm []float32, ms int) bool {
	n, l := len(offs), winoLanes()
	if l == 0 || n == 0 || len(mm) < ((m+2)*(m+2)-1)*ms+(n+l-1)/l*l {
		return false
	}
	return offsIn(offs, len(y)-(m-1)*ldy-(m-1))
}

// offsIn reports whether every offset lies in [0, lim).
func offsIn(offs []int32, lim int) bool {
	lo, hi := offs[0], offs[0]
	for _, o := range offs {
		lo, hi = min(lo, o), max(hi, o)
	}
	return lo >= 0 && int(hi) < lim
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func winoIn2(v []float32, vs int, x []float32, offs []int32, ldx int) {
	if winoInAsm(4, v, vs, x, offs, ldx) {
		var tmp [2 * 16 * 16]float32
		if useAVX512 {
			winoIn2AVX512(&v[0], vs, &x[0], &offs[0], len(offs), ldx, &tmp[0])
		} else {
			winoIn2AVX2(&v[0], vs, &x[0], &offs[0], len(offs), ldx, &tmp[0])
		}
		return
	}
	winoIn2Generic(v, vs, x, offs, ldx)
}

func winoIn4(v []float32, vs int, x []float32, offs []int32, ldx int) {
	if winoInAsm(6, v, vs, x, offs, ldx) {
		var tmp [2 * 36 * 16]float32
		if useAVX512 {
			winoIn4AVX512(&v[0], vs, &x[0], &offs[0], len(offs), ldx, &tmp[0])
		} else {
			winoIn4AVX2(&v[0], vs, &x[0], &offs[0], len(offs), ldx, &tmp[0])
		}
		return
	}
	winoIn4Generic(v, vs, x, offs, ldx)
}

func winoOut2(y []float32, ldy int, offs []int32, mm []float32, ms int, bias float32, relu bool) {
	if winoOutAsm(2, y, ldy, offs, mm, ms) {
		var tmp [8 * 16]float32
		if useAVX512 {
			winoOut2AVX512(&y[0], ldy, &offs[0], len(offs), &mm[0], ms, bias, b2i(relu), &tmp[0])
		} else {
			winoOut2AVX2(&y[0], ldy, &offs[0], len(offs), &mm[0], ms, bias, b2i(relu), &tmp[0])
		}
		return
	}
	winoOut2Generic(y, ldy, offs, mm, ms, bias, relu)
}

func winoOut4(y []float32, ldy int, offs []int32, mm []float32, ms int, bias float32, relu bool) {
	if winoOutAsm(4, y, ldy, offs, mm, ms) {
		var tmp [24 * 16]float32
		if useAVX512 {
			winoOut4AVX512(&y[0], ldy, &offs[0], len(offs), &mm[0], ms, bias, b2i(relu), &tmp[0])
		} else {
			winoOut4AVX2(&y[0], ldy, &offs[0], len(offs), &mm[0], ms, bias, b2i(relu), &tmp[0])
		}
		return
	}
	winoOut4Generic(y, ldy, offs, mm, ms, bias, relu)
}
