package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"strconv"
)

// svgDoc is the SVG painter: the same figure as the PNG, with real text
// that the viewer sets in its own sans-serif font (no font is embedded, and
// nothing beyond the standard library is needed).
type svgDoc struct{ b bytes.Buffer }

// svgFontSize is the text size; svgCharWidth estimates a character's
// advance in a sans-serif font at that size, for placing text beside
// other marks.
const (
	svgFontSize  = 14
	svgCharWidth = 0.56 * svgFontSize
)

func newSVG() *svgDoc {
	d := &svgDoc{}
	fmt.Fprintf(&d.b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="%d">
<rect width="100%%" height="100%%" fill="white"/>
`, plotW, plotH, plotW, plotH, svgFontSize)
	return d
}

// bytes closes the document and returns it.
func (d *svgDoc) bytes() []byte {
	d.b.WriteString("</svg>\n")
	return d.b.Bytes()
}

func svgColor(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func (d *svgDoc) line(x0, y0, x1, y1 float64, col color.RGBA, width, dash float64) {
	extra := ""
	if dash > 0 {
		extra = ` stroke-dasharray="` + num(dash) + `"`
	}
	fmt.Fprintf(&d.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>`+"\n",
		num(x0), num(y0), num(x1), num(y1), svgColor(col), num(width), extra)
}

func (d *svgDoc) polyline(xs, ys []float64, col color.RGBA, width float64) {
	if len(xs) == 0 {
		return
	}
	d.b.WriteString(`<polyline fill="none" stroke-linejoin="round" stroke="` + svgColor(col) + `" stroke-width="` + num(width) + `" points="`)
	for i := range xs {
		if i > 0 {
			d.b.WriteByte(' ')
		}
		d.b.WriteString(num(xs[i]) + "," + num(ys[i]))
	}
	d.b.WriteString("\"/>\n")
}

func (d *svgDoc) rect(x0, y0, x1, y1 float64, col color.RGBA, alpha float64) {
	x, y := min(x0, x1), min(y0, y1)
	// The PNG fills both corner pixels; so does a rectangle one wider.
	w, h := max(x0, x1)-x+1, max(y0, y1)-y+1
	fmt.Fprintf(&d.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s" fill-opacity="%s"/>`+"\n",
		num(x), num(y), num(w), num(h), svgColor(col), num(alpha))
}

func (d *svgDoc) dot(x, y, r float64, col color.RGBA) {
	fmt.Fprintf(&d.b, `<circle cx="%s" cy="%s" r="%s" fill="%s"/>`+"\n", num(x), num(y), num(r), svgColor(col))
}

func (d *svgDoc) textWidth(s string) float64 { return float64(len([]rune(s))) * svgCharWidth }

// escape returns s as XML character data.
func escape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

var svgAnchors = [...]string{anchorStart: "start", anchorMiddle: "middle", anchorEnd: "end"}

func (d *svgDoc) text(x, y float64, s string, col color.RGBA, a anchor) {
	// y is the top of the text, as in the PNG; SVG places the baseline.
	fmt.Fprintf(&d.b, `<text x="%s" y="%s" fill="%s" text-anchor="%s">%s</text>`+"\n",
		num(x), num(y+svgFontSize*0.8), svgColor(col), svgAnchors[a], escape(s))
}

func (d *svgDoc) vtext(x, y float64, s string, col color.RGBA) {
	fmt.Fprintf(&d.b, `<text transform="translate(%s %s) rotate(-90)" fill="%s" text-anchor="middle" dominant-baseline="central">%s</text>`+"\n",
		num(x), num(y), svgColor(col), escape(s))
}
