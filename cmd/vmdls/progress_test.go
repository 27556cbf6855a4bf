package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmdls-go/vmdls/ovd"
)

// fakeClock advances by step at every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

// fakeEvents is a training run of 2 epochs of 4 steps of 100 images, each
// step taking one second, a validation after each epoch, then a score.
func fakeEvents() []ovd.Event {
	var ev []ovd.Event
	for ep := 1; ep <= 2; ep++ {
		for st := 1; st <= 4; st++ {
			el := time.Duration((ep-1)*4+st) * time.Second
			ev = append(ev, ovd.Event{Phase: "train", Epoch: ep, Epochs: 2, Step: st, Steps: 4, Images: ((ep-1)*4 + st) * 100,
				Elapsed: el, Values: map[string]float64{"loss": 1.5 / float64(st), "triplet": 1.0, "kl": 0.5, "lr": 0.001}})
		}
		last := ev[len(ev)-1]
		last.EpochEnd = true
		ev = append(ev, last)
		ev = append(ev, ovd.Event{Phase: "validate", Epoch: ep, Epochs: 2, Step: 1, Steps: 1, Images: 50,
			Elapsed: time.Second, EpochEnd: true, Values: map[string]float64{"f1": 0.5 + 0.1*float64(ep), "accuracy": 0.9}})
	}
	// fit and score count images, not batches, as ovd does.
	ev = append(ev, ovd.Event{Phase: "fit", Images: 250, Steps: 1000, Elapsed: 4 * time.Second})
	ev = append(ev, ovd.Event{Phase: "score", Step: 3, Steps: 3, Images: 300, Elapsed: 3 * time.Second, EpochEnd: true,
		Values: map[string]float64{"auroc": 0.97, "f1": 0.9, "fpr95": math.NaN()}})
	return ev
}

func runFake(t *testing.T, tty bool) (string, *progress) {
	var out bytes.Buffer
	p := newProgress(&out, tty)
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), step: time.Second}
	p.now = clk.now
	p.plainEvery = 3 * time.Second
	for _, e := range fakeEvents() {
		p.observe(e)
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	return out.String(), p
}

func TestProgressPlain(t *testing.T) {
	out, p := runFake(t, false)
	if strings.Contains(out, "\r") || strings.Contains(out, "\033") {
		t.Fatalf("plain output has terminal controls:\n%q", out)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	// Per epoch: the first step, one more after 3 s, the epoch's end; then
	// the validation; then the score.
	want := []string{
		"train    epoch 1/2 batch 1/4 100 img/s loss 1.5 triplet 1 kl 0.5 lr 0.001 ETA 7s",
		"train    epoch 1/2 batch 4/4 100 img/s loss 0.375 triplet 1 kl 0.5 lr 0.001 ETA 4s",
		"train    epoch 1/2 batch 4/4 100 img/s loss 0.375 triplet 1 kl 0.5 lr 0.001 ETA 5s",
		"validate epoch 1/2 batch 1/1 50.0 img/s accuracy 0.9 f1 0.6 ETA 1s",
	}
	for i, w := range want {
		if i >= len(lines) || lines[i] != w {
			t.Fatalf("line %d:\n got %q\nwant %q\nall:\n%s", i, lines[min(i, len(lines)-1)], w, out)
		}
	}
	if !contains(lines, "fit      images 250/1000 62.5 img/s ETA 12s") {
		t.Errorf("no fit line counting images:\n%s", out)
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "score    batch 3/3 100 img/s auroc 0.97 f1 0.9 fpr95 NaN done in") {
		t.Errorf("last line %q", last)
	}
	if !strings.Contains(out, "train    epoch 2/2 batch 4/4") || !strings.Contains(out, "done in") {
		t.Errorf("no final train line:\n%s", out)
	}
	var sum bytes.Buffer
	p.summary(&sum)
	s := sum.String()
	for _, w := range []string{"phase", "train", "2/2", "800", "loss 0.375", "validate", "f1 0.7", "fit", "score", "auroc 0.97"} {
		if !strings.Contains(s, w) {
			t.Errorf("summary lacks %q:\n%s", w, s)
		}
	}
	if strings.Index(s, "train") > strings.Index(s, "validate") || strings.Index(s, "validate") > strings.Index(s, "fit") ||
		strings.Index(s, "fit") > strings.Index(s, "score") {
		t.Errorf("summary rows out of phase order:\n%s", s)
	}
}

func TestProgressTerminal(t *testing.T) {
	out, _ := runFake(t, true)
	if !strings.Contains(out, "\r\033[Ktrain    epoch 1/2 batch 1/4") {
		t.Fatalf("no live line:\n%q", out)
	}
	// Each step is redrawn (they are a second apart), in place: the
	// lines of one epoch end with a single newline.
	if n := strings.Count(out, "\r\033[Ktrain    epoch 1/2"); n != 5 {
		t.Errorf("epoch 1 drawn %d times, want 5 (4 steps and the end):\n%q", n, out)
	}
	rows := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(rows) != 6 { // train 1, validate 1, train 2, validate 2, fit, score
		t.Errorf("want 5 finished lines, got %d:\n%q", len(rows), out)
	}
	for _, r := range rows {
		parts := strings.Split(r, "\r\033[K")
		if parts[0] != "" {
			t.Errorf("line does not start with a redraw: %q", r)
		}
		ph := strings.Fields(parts[1])[0]
		for _, p := range parts[1:] {
			if strings.Fields(p)[0] != ph {
				t.Errorf("one line mixes phases: %q", r)
			}
		}
	}
}

// TestProgressThrottle checks that a fast stream is not redrawn at every
// event on a terminal, nor printed at every event otherwise.
func TestProgressThrottle(t *testing.T) {
	for _, tty := range []bool{true, false} {
		var out bytes.Buffer
		p := newProgress(&out, tty)
		clk := &fakeClock{t: time.Unix(0, 0), step: time.Millisecond}
		p.now = clk.now
		for i := 1; i <= 1000; i++ {
			p.observe(ovd.Event{Phase: "train", Epoch: 1, Epochs: 1, Step: i, Steps: 1000, Images: i, Elapsed: time.Duration(i) * time.Millisecond})
		}
		p.close()
		n := strings.Count(out.String(), "train")
		if tty && (n < 5 || n > 12) {
			t.Errorf("terminal: %d redraws over 1 s, want about 10", n)
		}
		if !tty && n != 1 {
			t.Errorf("plain: %d lines over 1 s, want 1", n)
		}
	}
}

func TestMetricsJSONL(t *testing.T) {
	dir := t.TempDir()
	p := newProgress(&bytes.Buffer{}, false)
	path := filepath.Join(dir, "metrics.jsonl")
	if err := p.openMetrics(path); err != nil {
		t.Fatal(err)
	}
	ev := fakeEvents()
	for _, e := range ev {
		p.observe(e)
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", len(recs)+1, err, sc.Text())
		}
		recs = append(recs, r)
	}
	if len(recs) != len(ev) {
		t.Fatalf("%d records for %d events", len(recs), len(ev))
	}
	first := recs[0]
	if first["phase"] != "train" || first["epoch"] != 1.0 || first["step"] != 1.0 || first["steps"] != 4.0 ||
		first["images"] != 100.0 || first["elapsed_s"] != 1.0 || first["epoch_end"] != nil {
		t.Errorf("first record %v", first)
	}
	if v := first["values"].(map[string]any); v["loss"] != 1.5 || v["kl"] != 0.5 {
		t.Errorf("first record values %v", v)
	}
	if _, err := time.Parse(time.RFC3339Nano, first["time"].(string)); err != nil {
		t.Errorf("time: %v", err)
	}
	ends := 0
	for _, r := range recs {
		if r["epoch_end"] == true {
			ends++
		}
	}
	if ends != 5 { // 2 train, 2 validate, score
		t.Errorf("%d epoch-end records, want 5", ends)
	}
	last := recs[len(recs)-1]
	v := last["values"].(map[string]any)
	if fpr, ok := v["fpr95"]; !ok || fpr != nil {
		t.Errorf("NaN value should be null, got %v (present %v)", fpr, ok)
	}
	if last["phase"] != "score" || v["auroc"] != 0.97 {
		t.Errorf("last record %v", last)
	}
}

func TestShortDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 1500 * time.Millisecond: "2s", 187 * time.Second: "3m07s", 2*time.Hour + 5*time.Minute + 40*time.Second: "2h05m",
	} {
		if got := shortDur(d); got != want {
			t.Errorf("shortDur(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestMetricsJSONLAppends checks that a second run into the same folder (a
// resumed training) keeps the first run's records.
func TestMetricsJSONLAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	ev := fakeEvents()
	for run := 0; run < 2; run++ {
		p := newProgress(&bytes.Buffer{}, false)
		if err := p.openMetrics(path); err != nil {
			t.Fatal(err)
		}
		for _, e := range ev {
			p.observe(e)
		}
		if err := p.close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 2*len(ev) {
		t.Errorf("%d records after two runs of %d events, want %d", n, len(ev), 2*len(ev))
	}
}

// TestETAResumed checks the ETA of a run resumed at epoch 6 of 10: it has
// done 5 of this process's 50 steps in 5 s, so 45 steps remain at 1 s each;
// counting the 50 steps of epochs 1-5 as done in those 5 s would say 4.5 s.
func TestETAResumed(t *testing.T) {
	p := newProgress(&bytes.Buffer{}, false)
	t0 := time.Unix(1000, 0)
	p.now = func() time.Time { return t0 }
	p.observe(ovd.Event{Phase: "train", Epoch: 6, Epochs: 10, Step: 1, Steps: 10, Images: 10, Elapsed: time.Second})
	now := t0.Add(4 * time.Second)
	eta, ok := p.eta(now, ovd.Event{Phase: "train", Epoch: 6, Epochs: 10, Step: 5, Steps: 10, Images: 50, Elapsed: 5 * time.Second})
	if d := eta - 45*time.Second; !ok || d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("ETA %v (ok %v), want 45s", eta, ok)
	}
}

// TestFitLine checks the cut of the live line: below the terminal's
// width, whole values given up from the last, the ETA kept; whole when it
// fits or the width is unknown.
func TestFitLine(t *testing.T) {
	head, tail := "train    epoch 1/2 batch 1/4 133 img/s", " ETA 3m07s"
	vals := []string{" loss 5.419", " triplet 0.3826", " kl 5.037", " lr 0.0001", " neg_margin 0.15"}
	for _, c := range []struct {
		width int
		want  string
	}{
		{80, head + " loss 5.419 triplet 0.3826" + tail},
		{84, head + " loss 5.419 triplet 0.3826 kl 5.037" + tail},
		{0, head + strings.Join(vals, "") + tail},
		{200, head + strings.Join(vals, "") + tail},
		{50, head + tail},
		{20, head[:19]},
	} {
		if got := fitLine(head, vals, tail, c.width); got != c.want {
			t.Errorf("width %d: %q, want %q", c.width, got, c.want)
		}
	}
	// The live line is cut to the terminal's width.
	var out bytes.Buffer
	p := newProgress(&out, true)
	p.width = func() int { return 40 }
	p.observe(ovd.Event{Phase: "train", Epoch: 1, Epochs: 9, Step: 1, Steps: 9, Images: 10, Elapsed: time.Second,
		Values: map[string]float64{"loss": 1, "triplet": 2, "kl": 3, "lr": 0.1, "neg_margin": 0.5}})
	for _, seg := range strings.Split(out.String(), "\r\033[K") {
		if len(seg) >= 40 {
			t.Errorf("a drawn line of %d columns on 40: %q", len(seg), seg)
		}
	}
}

// TestValidateETA checks that a pass that recurs each epoch (validate)
// shows its epoch, its total and an ETA from its own elapsed time.
func TestValidateETA(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, false)
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), step: time.Minute}
	p.now = clk.now
	p.observe(ovd.Event{Phase: "validate", Epoch: 2, Images: 100, Steps: 400, Elapsed: 10 * time.Second})
	// An hour later, the next epoch's pass: its ETA must not count the hour.
	clk.t = clk.t.Add(time.Hour)
	p.observe(ovd.Event{Phase: "validate", Epoch: 3, Images: 200, Steps: 400, Elapsed: 20 * time.Second})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "validate epoch 2 images 100/400") || !strings.Contains(lines[0], "ETA 30s") ||
		!strings.Contains(lines[1], "epoch 3 images 200/400") || !strings.Contains(lines[1], "ETA 20s") {
		t.Errorf("validate lines:\n%s", out.String())
	}
}

// TestWrapColumn checks that the summary's last column wraps under itself
// on a narrow terminal and is left alone otherwise.
func TestWrapColumn(t *testing.T) {
	line := "train     2/2    320     4s    86.8   loss 6.207  triplet 0.9655  kl 5.241  f1 0.008658  images_per_sec 113.5  lr 0.0001\n"
	col := strings.Index(line, "loss")
	got := wrapColumn(line, col, 80)
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if len(l) >= 80 {
			t.Errorf("line of %d columns: %q", len(l), l)
		}
		if !strings.HasPrefix(l, "train") && strings.TrimLeft(l, " ") != l[col:] {
			t.Errorf("continuation not under its column: %q", l)
		}
	}
	if strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(line), " ") {
		t.Errorf("wrapping changed the words:\n%s", got)
	}
	if wrapColumn(line, col, 0) != line || wrapColumn(line, col, 200) != line {
		t.Error("wrapped without need")
	}
}
