package report

import (
	"image"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/vmdls-go/vmdls/ovd/metrics"
)

// Plot geometry: every PNG is plotW x plotH pixels with the data area inset
// by these margins.
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
)

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

// line draws from (x0, y0) to (x1, y1) in steps of at most half a pixel,
// each a square of side width; dash > 0 leaves gaps of dash pixels.
func (c *canvas) line(x0, y0, x1, y1 float64, col color.RGBA, width int, dash float64) {
	n := int(math.Ceil(2*math.Max(math.Abs(x1-x0), math.Abs(y1-y0)))) + 1
	length := math.Hypot(x1-x0, y1-y0)
	for i := 0; i <= n; i++ {
		f := float64(i) / float64(n)
		if dash > 0 && int(f*length/dash)%2 == 1 {
			continue
		}
		x, y := int(math.Round(x0+f*(x1-x0))), int(math.Round(y0+f*(y1-y0)))
		for dy := 0; dy < width; dy++ {
			for dx := 0; dx < width; dx++ {
				c.set(x+dx-width/2, y+dy-width/2, col)
			}
		}
	}
}

func textWidth(s string) int { return len([]rune(s)) * 6 * fontScale }

// text draws s with its top-left corner at (x, y).
func (c *canvas) text(x, y int, s string, col color.RGBA) {
	for _, r := range strings.ToUpper(s) {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['?']
		}
		for row, bits := range g {
			for k, b := range bits {
				if b == '#' {
					c.fill(x+k*fontScale, y+row*fontScale, x+k*fontScale+fontScale-1, y+row*fontScale+fontScale-1, col, 1)
				}
			}
		}
		x += 6 * fontScale
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

func fmtTick(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }

// axes draws the box, light grid lines and labelled ticks, the title above
// and the axis names (y's above the axis, since the font has no rotation).
func (c *canvas) axes(f frame, xt, yt []float64, title, xname, yname string) {
	l, r := float64(marginL), float64(plotW-marginR)
	t, b := float64(marginT), float64(plotH-marginB)
	for _, x := range xt {
		c.line(f.px(x), t, f.px(x), b, lightGry, 1, 0)
		c.line(f.px(x), b, f.px(x), b+5, black, 1, 0)
		s := fmtTick(x)
		c.text(int(f.px(x))-textWidth(s)/2, int(b)+8, s, black)
	}
	for _, y := range yt {
		c.line(l, f.py(y), r, f.py(y), lightGry, 1, 0)
		c.line(l-5, f.py(y), l, f.py(y), black, 1, 0)
		s := fmtTick(y)
		c.text(int(l)-8-textWidth(s), int(f.py(y))-7, s, black)
	}
	c.line(l, t, r, t, black, 1, 0)
	c.line(l, b, r, b, black, 1, 0)
	c.line(l, t, l, b, black, 1, 0)
	c.line(r, t, r, b, black, 1, 0)
	c.text((plotW-textWidth(title))/2, 8, title, black)
	c.text(plotW-marginR-textWidth(xname), plotH-20, xname, black)
	c.text(4, 32, yname, black)
}

func unitTicks() []float64 { return []float64{0, 0.25, 0.5, 0.75, 1} }

func fmtMetric(v float64) string {
	if math.IsNaN(v) {
		return "NONE"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// rocImage draws the ROC curve (known positive) over the chance diagonal.
func rocImage(name string, pts []metrics.Point, s metrics.Summary) *image.RGBA {
	c := newCanvas()
	f := frame{0, 1, 0, 1}
	c.axes(f, unitTicks(), unitTicks(), "ROC "+name+"  AUROC="+fmtMetric(s.AUROC), "FPR (UNKNOWN ACCEPTED)", "TPR (KNOWN ACCEPTED)")
	c.line(f.px(0), f.py(0), f.px(1), f.py(1), grey, 1, 6)
	if s.NumKnown > 0 && s.NumUnknown > 0 {
		for i := 1; i < len(pts); i++ {
			c.line(f.px(pts[i-1].FPR), f.py(pts[i-1].TPR), f.px(pts[i].FPR), f.py(pts[i].TPR), blue, 3, 0)
		}
	}
	return c.img
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

func spanTicks(lo, hi float64) []float64 {
	return []float64{lo, lo + (hi-lo)/3, lo + 2*(hi-lo)/3, hi}
}

// f1Image draws macro-F1 against the threshold, the best one marked.
func f1Image(r Run, pts []metrics.Point, s metrics.Summary) *image.RGBA {
	lo, hi := valueRange(r.Values, r.Labels, r.NumClasses)
	c := newCanvas()
	f := frame{lo, hi, 0, 1}
	c.axes(f, spanTicks(lo, hi), unitTicks(), "MACRO-F1 "+r.Name+"  BEST="+fmtMetric(s.MacroF1), "THRESHOLD", "MACRO-F1 (C+1 LABELS)")
	prev := -1
	for i, p := range pts {
		if math.IsNaN(p.MacroF1) {
			continue
		}
		if prev >= 0 {
			q := pts[prev]
			c.line(f.px(clamp(q.Threshold, lo, hi)), f.py(q.MacroF1), f.px(clamp(p.Threshold, lo, hi)), f.py(p.MacroF1), blue, 3, 0)
		}
		prev = i
	}
	if !math.IsNaN(s.BestThreshold) && !math.IsInf(s.BestThreshold, 0) {
		x := f.px(clamp(s.BestThreshold, lo, hi))
		c.line(x, marginT, x, plotH-marginB, red, 1, 4)
		label := "T=" + fmtTick(s.BestThreshold)
		c.text(min(int(x)+4, plotW-marginR-textWidth(label)), marginT+6, label, red)
	}
	return c.img
}

// histImage draws the distribution of value for known and unknown images,
// each normalized to its own count; values left of the range fall in the
// first bin.
func histImage(r Run, s metrics.Summary) *image.RGBA {
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
	c := newCanvas()
	f := frame{lo, hi, 0, top}
	c.axes(f, spanTicks(lo, hi), []float64{0, top / 2, top}, "VALUE "+r.Name, "VALUE (<= LEFT EDGE IN FIRST BIN)", "FRACTION OF KIND")
	for b := range bins {
		x0 := f.px(lo + float64(b)*(hi-lo)/bins)
		x1 := f.px(lo+float64(b+1)*(hi-lo)/bins) - 1
		if hk[b] > 0 {
			c.fill(int(x0), int(f.py(hk[b])), int(x1), int(f.py(0)), blue, 0.55)
		}
		if hu[b] > 0 {
			c.fill(int(x0), int(f.py(hu[b])), int(x1), int(f.py(0)), orange, 0.55)
		}
	}
	lx, ly := marginL+10, marginT+8
	c.fill(lx, ly, lx+12, ly+12, blue, 0.55)
	c.text(lx+18, ly, "KNOWN ("+strconv.Itoa(s.NumKnown)+")", black)
	c.fill(lx, ly+20, lx+12, ly+32, orange, 0.55)
	c.text(lx+18, ly+20, "UNKNOWN ("+strconv.Itoa(s.NumUnknown)+")", black)
	return c.img
}
