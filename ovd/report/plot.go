package report

import (
	"image"
	"image/color"
	"math"
	"sort"
	"strconv"

	"github.com/vmdls-go/vmdls/ovd/metrics"
)

// Plot geometry: every figure is plotW x plotH pixels (PNG) or units (SVG)
// with the data area inset by these margins.
const (
	plotW, plotH                       = 640, 480
	marginL, marginR, marginT, marginB = 72, 24, 60, 56
	fontScale                          = 2
)

var (
	white    = color.RGBA{255, 255, 255, 255}
	black    = color.RGBA{0, 0, 0, 255}
	grey     = color.RGBA{160, 160, 160, 255}
	lightGry = color.RGBA{225, 225, 225, 255}
	blue     = color.RGBA{31, 119, 180, 255} // known / the curve
	orange   = color.RGBA{255, 127, 14, 255} // unknown
	red      = color.RGBA{214, 39, 40, 255}  // marked threshold
	// palette colours the runs of the overlaid ROC figure, the full method
	// first (matplotlib's default cycle, without the red of the markers).
	palette = []color.RGBA{blue, orange, {44, 160, 44, 255}, {148, 103, 189, 255}, {140, 86, 75, 255},
		{227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255}}
)

// anchor says which point of a text its x is: its start, middle or end.
type anchor int

const (
	anchorStart anchor = iota
	anchorMiddle
	anchorEnd
)

// painter is what a figure is drawn on: the PNG rasterizer (canvas) or the
// SVG writer (svgDoc). Both take the same coordinates (x right, y down, in
// pixels of a plotW x plotH figure), so one drawing function makes both
// files and they show the same thing.
type painter interface {
	// line strokes a segment width wide; dash > 0 leaves gaps of dash.
	line(x0, y0, x1, y1 float64, col color.RGBA, width, dash float64)
	// polyline strokes the path through the points.
	polyline(xs, ys []float64, col color.RGBA, width float64)
	// rect fills the rectangle with col at opacity alpha.
	rect(x0, y0, x1, y1 float64, col color.RGBA, alpha float64)
	// dot fills a disc of radius r.
	dot(x, y, r float64, col color.RGBA)
	// text writes s with its top at y; vtext writes it rotated a quarter
	// turn anticlockwise, centred on (x, y), for a vertical axis's name.
	text(x, y float64, s string, col color.RGBA, a anchor)
	vtext(x, y float64, s string, col color.RGBA)
	// textWidth is how wide text(s) comes out.
	textWidth(s string) float64
}

// canvas is the PNG painter: a white RGBA image and the bitmap font.
type canvas struct{ img *image.RGBA }

func newCanvas() *canvas {
	img := image.NewRGBA(image.Rect(0, 0, plotW, plotH))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	return &canvas{img}
}

func (c *canvas) set(x, y int, col color.RGBA) {
	if image.Pt(x, y).In(c.img.Rect) {
		c.img.SetRGBA(x, y, col)
	}
}

// blend paints col over the pixel with opacity a, so that overlapping
// histogram bars of the two kinds both stay visible.
func (c *canvas) blend(x, y int, col color.RGBA, a float64) {
	if !image.Pt(x, y).In(c.img.Rect) {
		return
	}
	p := c.img.RGBAAt(x, y)
	mix := func(f, b uint8) uint8 { return uint8(math.Round(a*float64(f) + (1-a)*float64(b))) }
	c.img.SetRGBA(x, y, color.RGBA{mix(col.R, p.R), mix(col.G, p.G), mix(col.B, p.B), 255})
}

func (c *canvas) fill(x0, y0, x1, y1 int, col color.RGBA, a float64) {
	for y := min(y0, y1); y <= max(y0, y1); y++ {
		for x := min(x0, x1); x <= max(x0, x1); x++ {
			c.blend(x, y, col, a)
		}
	}
}

func (c *canvas) rect(x0, y0, x1, y1 float64, col color.RGBA, alpha float64) {
	c.fill(int(x0), int(y0), int(x1), int(y1), col, alpha)
}

// line draws from (x0, y0) to (x1, y1) in steps of at most half a pixel,
// each a square of side width; dash > 0 leaves gaps of dash pixels.
func (c *canvas) line(x0, y0, x1, y1 float64, col color.RGBA, width, dash float64) {
	w := max(1, int(math.Round(width)))
	n := int(math.Ceil(2*math.Max(math.Abs(x1-x0), math.Abs(y1-y0)))) + 1
	length := math.Hypot(x1-x0, y1-y0)
	for i := 0; i <= n; i++ {
		f := float64(i) / float64(n)
		if dash > 0 && int(f*length/dash)%2 == 1 {
			continue
		}
		x, y := int(math.Round(x0+f*(x1-x0))), int(math.Round(y0+f*(y1-y0)))
		for dy := 0; dy < w; dy++ {
			for dx := 0; dx < w; dx++ {
				c.set(x+dx-w/2, y+dy-w/2, col)
			}
		}
	}
}

func (c *canvas) polyline(xs, ys []float64, col color.RGBA, width float64) {
	for i := 1; i < len(xs); i++ {
		c.line(xs[i-1], ys[i-1], xs[i], ys[i], col, width, 0)
	}
}

func (c *canvas) dot(x, y, r float64, col color.RGBA) {
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			if dx*dx+dy*dy <= r*r+0.5 {
				c.set(int(math.Round(x+dx)), int(math.Round(y+dy)), col)
			}
		}
	}
}

func (c *canvas) textWidth(s string) float64 { return float64(len([]rune(s)) * 6 * fontScale) }

// glyph returns r's bitmap, '?' for a character the font lacks.
func glyph(r rune) []string {
	if g, ok := glyphs[r]; ok {
		return g
	}
	return glyphs['?']
}

func (c *canvas) text(x, y float64, s string, col color.RGBA, a anchor) {
	x -= float64(a) / 2 * c.textWidth(s)
	ix, iy := int(math.Round(x)), int(math.Round(y))
	for _, r := range s {
		for row, bits := range glyph(r) {
			for k, b := range bits {
				if b == '#' {
					c.fill(ix+k*fontScale, iy+row*fontScale, ix+k*fontScale+fontScale-1, iy+row*fontScale+fontScale-1, col, 1)
				}
			}
		}
		ix += 6 * fontScale
	}
}

func (c *canvas) vtext(x, y float64, s string, col color.RGBA) {
	// Rotated anticlockwise: the glyphs' rows run left to right and the
	// text runs upwards, from y + width/2.
	ix := int(math.Round(x)) - 7*fontScale/2
	iy := int(math.Round(y + c.textWidth(s)/2))
	for _, r := range s {
		for row, bits := range glyph(r) {
			for k, b := range bits {
				if b == '#' {
					px, py := ix+row*fontScale, iy-k*fontScale
					c.fill(px, py-fontScale+1, px+fontScale-1, py, col, 1)
				}
			}
		}
		iy -= 6 * fontScale
	}
}

// frame maps data coordinates onto the plot area.
type frame struct{ xmin, xmax, ymin, ymax float64 }

func (f frame) px(x float64) float64 {
	return marginL + (x-f.xmin)/(f.xmax-f.xmin)*(plotW-marginL-marginR)
}

func (f frame) py(y float64) float64 {
	return plotH - marginB - (y-f.ymin)/(f.ymax-f.ymin)*(plotH-marginT-marginB)
}

// niceTicks returns round tick values inside [lo, hi]: the multiples of a
// step of 1, 2 or 5 times a power of ten, four to eight of them.
func niceTicks(lo, hi float64) []float64 {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return []float64{lo}
	}
	// The finest of 1, 2, 5, 10 times the power of ten below a fifth of the
	// range that gives at most seven intervals.
	p := math.Pow(10, math.Floor(math.Log10((hi-lo)/5)))
	step := 10 * p
	for _, m := range []float64{1, 2, 5} {
		if (hi-lo)/(m*p) <= 7 {
			step = m * p
			break
		}
	}
	var ticks []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0 // not -0 or 1e-17
		}
		ticks = append(ticks, v)
	}
	return ticks
}

func fmtTick(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// axes draws the box, light grid lines and labelled ticks, the title above,
// the x axis's name below it and the y axis's name turned along it.
func axes(p painter, f frame, xt, yt []float64, title, xname, yname string) {
	l, r := float64(marginL), float64(plotW-marginR)
	t, b := float64(marginT), float64(plotH-marginB)
	for _, x := range xt {
		p.line(f.px(x), t, f.px(x), b, lightGry, 1, 0)
		p.line(f.px(x), b, f.px(x), b+5, black, 1, 0)
		p.text(f.px(x), b+8, fmtTick(x), black, anchorMiddle)
	}
	for _, y := range yt {
		p.line(l, f.py(y), r, f.py(y), lightGry, 1, 0)
		p.line(l-5, f.py(y), l, f.py(y), black, 1, 0)
		p.text(l-8, f.py(y)-7, fmtTick(y), black, anchorEnd)
	}
	p.line(l, t, r, t, black, 1, 0)
	p.line(l, b, r, b, black, 1, 0)
	p.line(l, t, l, b, black, 1, 0)
	p.line(r, t, r, b, black, 1, 0)
	p.text(plotW/2, 12, title, black, anchorMiddle)
	p.text((l+r)/2, plotH-24, xname, black, anchorMiddle)
	p.vtext(14, (t+b)/2, yname, black)
}

func unitTicks() []float64 { return []float64{0, 0.2, 0.4, 0.6, 0.8, 1} }

func fmtMetric(v float64) string {
	if math.IsNaN(v) {
		return "none"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// Axis names, in words.
const (
	rocX   = "False positive rate (unknown accepted)"
	rocY   = "True positive rate (known accepted)"
	thrX   = "Threshold on the score"
	f1Y    = "Macro-F1 over the C+1 labels"
	histX  = "Score (lower ones in the first bin)"
	histY  = "Fraction of images of its kind"
	tpr95  = "TPR 95%"
	noData = "no known or no unknown images: no curve"
)

// tpr95Point returns the ROC point at the TPR-95% threshold (the paper's
// operating point), and whether there is one.
func tpr95Point(pts []metrics.Point, s metrics.Summary) (metrics.Point, bool) {
	if s.NumKnown == 0 || s.NumUnknown == 0 || math.IsNaN(s.ThresholdAtTPR95) {
		return metrics.Point{}, false
	}
	for _, p := range pts {
		if p.Threshold == s.ThresholdAtTPR95 {
			return p, true
		}
	}
	return metrics.Point{}, false
}

// rocCurve strokes a run's ROC curve and marks its TPR-95% point.
func rocCurve(p painter, f frame, pts []metrics.Point, s metrics.Summary, col color.RGBA) {
	xs, ys := make([]float64, len(pts)), make([]float64, len(pts))
	for i, q := range pts {
		xs[i], ys[i] = f.px(q.FPR), f.py(q.TPR)
	}
	p.polyline(xs, ys, col, 3)
	if q, ok := tpr95Point(pts, s); ok {
		p.dot(f.px(q.FPR), f.py(q.TPR), 5, red)
	}
}

// drawROC draws one run's ROC curve (known positive) over the chance
// diagonal, its TPR-95% point marked with the FPR there.
func drawROC(p painter, name string, pts []metrics.Point, s metrics.Summary) {
	f := frame{0, 1, 0, 1}
	axes(p, f, unitTicks(), unitTicks(), "ROC of "+name+": AUROC "+fmtMetric(s.AUROC), rocX, rocY)
	p.line(f.px(0), f.py(0), f.px(1), f.py(1), grey, 1, 6)
	if s.NumKnown == 0 || s.NumUnknown == 0 {
		p.text(plotW/2, plotH/2, noData, black, anchorMiddle)
		return
	}
	rocCurve(p, f, pts, s, blue)
	if q, ok := tpr95Point(pts, s); ok {
		label := tpr95 + ": FPR " + fmtMetric(q.FPR)
		// Right of the point, or left of it near the right edge; below
		// the top of the plot either way.
		x, a := f.px(q.FPR)+10, anchorStart
		if x+p.textWidth(label) > plotW-marginR-4 {
			x, a = f.px(q.FPR)-10, anchorEnd
		}
		p.text(x, math.Max(f.py(q.TPR)+8, marginT+4), label, red, a)
	}
}

// rocRun is one curve of the overlaid ROC figure.
type rocRun struct {
	name string
	pts  []metrics.Point
	s    metrics.Summary
}

// drawROCAll overlays the ROC curves of the full method and its ablations,
// each with its TPR-95% point, and a legend with each one's AUROC.
func drawROCAll(p painter, runs []rocRun) {
	f := frame{0, 1, 0, 1}
	axes(p, f, unitTicks(), unitTicks(), "ROC of the method and its ablations", rocX, rocY)
	p.line(f.px(0), f.py(0), f.px(1), f.py(1), grey, 1, 6)
	lx, ly := f.px(0.45), f.py(0.05)-float64(len(runs)+1)*20
	for i, r := range runs {
		col := palette[i%len(palette)]
		if r.s.NumKnown > 0 && r.s.NumUnknown > 0 {
			rocCurve(p, f, r.pts, r.s, col)
		}
		y := ly + float64(i)*20
		p.rect(lx, y+2, lx+14, y+12, col, 1)
		p.text(lx+20, y, r.name+": AUROC "+fmtMetric(r.s.AUROC), black, anchorStart)
	}
	y := ly + float64(len(runs))*20
	p.dot(lx+7, y+7, 5, red)
	p.text(lx+20, y, tpr95+" point", black, anchorStart)
}

// valueRange picks the x range of the threshold and histogram plots: from
// the 1st percentile of the known values (or the median of the unknown ones
// if lower) to the largest value. The score of far-out images can be
// millions below the known ones; clamping them to the left edge keeps the
// region where thresholds matter readable.
func valueRange(values []float64, labels []int, numClasses int) (lo, hi float64) {
	var known, unknown []float64
	for i, v := range values {
		if math.IsInf(v, 0) {
			continue // -Inf: drawn at the left edge
		}
		if labels[i] < numClasses {
			known = append(known, v)
		} else {
			unknown = append(unknown, v)
		}
	}
	q := func(xs []float64, p float64) float64 {
		sort.Float64s(xs)
		return xs[int(p*float64(len(xs)-1))]
	}
	switch {
	case len(known)+len(unknown) == 0:
		return -1, 0
	case len(known) == 0:
		lo = q(unknown, 0.01)
	default:
		lo = q(known, 0.01)
		if len(unknown) > 0 {
			lo = math.Min(lo, q(unknown, 0.5))
		}
	}
	hi = math.Inf(-1)
	for _, v := range append(known, unknown...) {
		hi = math.Max(hi, v)
	}
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		lo, hi = hi-0.5, hi+0.5
	}
	return lo, hi
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// drawF1 draws macro-F1 against the threshold, the best one marked.
func drawF1(p painter, r Run, pts []metrics.Point, s metrics.Summary) {
	lo, hi := valueRange(r.Values, r.Labels, r.NumClasses)
	f := frame{lo, hi, 0, 1}
	axes(p, f, niceTicks(lo, hi), unitTicks(), "Macro-F1 of "+r.Name+": best "+fmtMetric(s.MacroF1), thrX, f1Y)
	var xs, ys []float64
	for _, q := range pts {
		if !math.IsNaN(q.MacroF1) {
			xs, ys = append(xs, f.px(clamp(q.Threshold, lo, hi))), append(ys, f.py(q.MacroF1))
		}
	}
	p.polyline(xs, ys, blue, 3)
	if !math.IsNaN(s.BestThreshold) && !math.IsInf(s.BestThreshold, 0) {
		x := f.px(clamp(s.BestThreshold, lo, hi))
		p.line(x, marginT, x, plotH-marginB, red, 1, 4)
		label := "best threshold " + fmtTick(s.BestThreshold)
		p.text(math.Min(x+4, plotW-marginR-4-p.textWidth(label)), marginT+6, label, red, anchorStart)
	}
}

// drawHist draws the distribution of value for known and unknown images,
// each normalized to its own count; values left of the range fall in the
// first bin.
func drawHist(p painter, r Run, s metrics.Summary) {
	const bins = 60
	lo, hi := valueRange(r.Values, r.Labels, r.NumClasses)
	var hk, hu [bins]float64
	for i, v := range r.Values {
		b := min(bins-1, int((clamp(v, lo, hi)-lo)/(hi-lo)*bins))
		if r.Labels[i] < r.NumClasses {
			hk[b] += 1 / float64(s.NumKnown)
		} else {
			hu[b] += 1 / float64(s.NumUnknown)
		}
	}
	top := 0.0
	for b := range bins {
		top = math.Max(top, math.Max(hk[b], hu[b]))
	}
	if top == 0 {
		top = 1
	}
	top *= 1.1
	f := frame{lo, hi, 0, top}
	axes(p, f, niceTicks(lo, hi), niceTicks(0, top), "Scores of "+r.Name, histX, histY)
	for b := range bins {
		x0 := f.px(lo + float64(b)*(hi-lo)/bins)
		x1 := f.px(lo+float64(b+1)*(hi-lo)/bins) - 1
		if hk[b] > 0 {
			p.rect(x0, f.py(hk[b]), x1, f.py(0), blue, 0.55)
		}
		if hu[b] > 0 {
			p.rect(x0, f.py(hu[b]), x1, f.py(0), orange, 0.55)
		}
	}
	lx, ly := float64(marginL+10), float64(marginT+8)
	p.rect(lx, ly, lx+12, ly+12, blue, 0.55)
	p.text(lx+18, ly, "known ("+strconv.Itoa(s.NumKnown)+")", black, anchorStart)
	p.rect(lx, ly+20, lx+12, ly+32, orange, 0.55)
	p.text(lx+18, ly+20, "unknown ("+strconv.Itoa(s.NumUnknown)+")", black, anchorStart)
}
