package report

import (
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// svgTexts parses an SVG file as XML and returns its text elements' content
// and the number of circles (the TPR-95% markers); a file that is not
// well-formed XML fails the test.
func svgTexts(t *testing.T, path string) (texts []string, circles int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	var inText bool
	var cur strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: not well-formed XML: %v", path, err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			switch tk.Name.Local {
			case "text":
				inText = true
				cur.Reset()
			case "circle":
				circles++
			}
		case xml.CharData:
			if inText {
				cur.Write(tk)
			}
		case xml.EndElement:
			if tk.Name.Local == "text" {
				inText = false
				texts = append(texts, cur.String())
			}
		}
	}
	return texts, circles
}

// TestSVGFigures checks that every figure has an SVG twin that parses as
// XML, names its axes in words, carries round tick labels, and that the
// overlaid ROC figure has a curve, a legend entry and a TPR-95% marker for
// every run.
func TestSVGFigures(t *testing.T) {
	dir := t.TempDir()
	runs := []Run{synthRun("vmdls", 800, 10, 2, 1), synthRun("vmdlsb", 600, 10, 0.5, 2), synthRun("latent", 300, 10, 0.2, 3)}
	if _, err := Write(dir, runs, nil); err != nil {
		t.Fatal(err)
	}
	texts, circles := svgTexts(t, filepath.Join(dir, "roc.svg"))
	for _, want := range []string{rocX, rocY, "0.2", "0.4", "0.6", "0.8"} {
		if !slices.Contains(texts, want) {
			t.Errorf("roc.svg has no text %q; has %q", want, texts)
		}
	}
	if circles != 1 {
		t.Errorf("roc.svg has %d markers, want the one TPR-95%% point", circles)
	}
	texts, circles = svgTexts(t, filepath.Join(dir, "roc-all.svg"))
	for _, r := range runs {
		if !slices.ContainsFunc(texts, func(s string) bool { return strings.HasPrefix(s, r.Name+": AUROC ") }) {
			t.Errorf("roc-all.svg has no legend entry for %s; has %q", r.Name, texts)
		}
	}
	if circles != len(runs)+1 { // one per curve, one in the legend
		t.Errorf("roc-all.svg has %d markers, want %d", circles, len(runs)+1)
	}
	for _, fig := range []string{"f1", "hist", "f1-latent", "hist-vmdlsb"} {
		texts, _ := svgTexts(t, filepath.Join(dir, fig+".svg"))
		xname := map[bool]string{true: thrX, false: histX}[strings.HasPrefix(fig, "f1")]
		if !slices.Contains(texts, xname) {
			t.Errorf("%s.svg does not name its x axis %q: %q", fig, xname, texts)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "roc.svg")); !strings.Contains(string(b), "rotate(-90)") {
		t.Error("roc.svg: the y axis's name is not turned along the axis")
	}
}

// TestNiceTicks checks that ticks are round (1, 2 or 5 times a power of
// ten apart, on multiples of the step), inside the range and four to eight.
func TestNiceTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 1, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{-1234.5, -17.2, []float64{-1200, -1000, -800, -600, -400, -200}},
		{0.0013, 0.0091, []float64{0.002, 0.004, 0.006, 0.008}},
		{-3, 7, []float64{-2, 0, 2, 4, 6}},
	} {
		got := niceTicks(c.lo, c.hi)
		if len(got) != len(c.want) {
			t.Errorf("niceTicks(%v, %v) = %v, want %v", c.lo, c.hi, got, c.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-12*math.Max(1, math.Abs(c.want[i])) {
				t.Errorf("niceTicks(%v, %v) = %v, want %v", c.lo, c.hi, got, c.want)
				break
			}
		}
	}
}

// TestFontMixedCase checks that the bitmap font has its own small letters
// and a V that is not a U (the title "VMDLS" read as "UMDLS").
func TestFontMixedCase(t *testing.T) {
	for r := 'a'; r <= 'z'; r++ {
		g, ok := glyphs[r]
		if !ok {
			t.Errorf("no glyph for %q", r)
			continue
		}
		if slices.Equal(g, glyphs[r-'a'+'A']) {
			t.Errorf("%q is drawn as %q", r, r-'a'+'A')
		}
		for _, row := range g {
			if len(row) != 5 {
				t.Errorf("%q has a row %q, want five columns", r, row)
			}
		}
	}
	if slices.Equal(glyphs['V'], glyphs['U']) || slices.Equal(glyphs['V'][:5], glyphs['U'][:5]) {
		t.Error("V looks like U in its first five rows")
	}
}
