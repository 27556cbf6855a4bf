package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/vmdls-go/vmdls/internal/regularfile"
	"github.com/vmdls-go/vmdls/ovd"
)

// isTerminal reports whether f is a character device (a terminal), the
// only case where redrawing a line with a carriage return looks right.
// TERM=dumb (editors' shells, some CI logs) counts as not a terminal.
func isTerminal(f *os.File) bool {
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTTY(f)
}

// fitLine makes a live line narrower than the terminal's width columns
// (the lines are ASCII): a line as wide as the terminal makes some
// terminals wrap at its last column, and a wrapped line leaves a stale row
// on every redraw, as \r returns to the start of the last row only. The
// values give way from the last, whole, and the ETA (what a reader looks
// for) stays; a head wider than the terminal alone is cut. width 0 is
// unknown: no cut.
func fitLine(head string, vals []string, tail string, width int) string {
	line := head + strings.Join(vals, "") + tail
	if width <= 1 || len(line) < width {
		return line
	}
	n := len(line)
	for len(vals) > 0 && n >= width {
		n -= len(vals[len(vals)-1])
		vals = vals[:len(vals)-1]
	}
	line = head + strings.Join(vals, "") + tail
	if len(line) >= width {
		line = line[:width-1]
	}
	return line
}

// progress turns ovd events into what a person watches: on a terminal one
// live line per phase, redrawn in place; otherwise a plain line every few
// seconds and at each epoch's end. It keeps the last summary of each phase
// for the table at the end, and writes every event to metrics.jsonl.
type progress struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool
	// now is the clock; tests replace it.
	now func() time.Time
	// width returns the terminal's width in columns (0: unknown), asked
	// at every redraw so that a resized window is followed.
	width func() int
	// plainEvery is the spacing of plain lines; redrawEvery throttles the
	// live line so that drawing never costs noticeable time.
	plainEvery, redrawEvery time.Duration

	phase    string    // phase of the live line
	lastDraw time.Time // last live redraw or plain line
	lineOpen bool      // a live line is on screen without its newline
	start    map[string]time.Time
	// startDone is the fraction of each phase already done at its first
	// event: a resumed run starts part way, and the ETA must not credit
	// this process with the epochs an earlier one trained.
	startDone map[string]float64
	phases    []string             // in the order they first appeared
	final     map[string]ovd.Event // the last event of each phase

	// metrics is metrics.jsonl, written one whole record per write
	// call: a buffer flushed in the middle of a record is what a kill -9
	// would leave torn.
	metrics *os.File
	merr    error
}

func newProgress(w io.Writer, tty bool) *progress {
	return &progress{w: w, tty: tty, now: time.Now, width: func() int { return 0 }, plainEvery: 5 * time.Second,
		redrawEvery: 100 * time.Millisecond, start: map[string]time.Time{}, startDone: map[string]float64{}, final: map[string]ovd.Event{}}
}

// openMetrics opens the metrics log at path for appending: a resumed run
// writes into the output folder of the run it continues, and that run's
// records (each stamped with its time) must survive.
//
// A process killed in the middle of a write leaves a partial last line;
// it is cut off here, so that the next record starts on a line of its own
// and every line parses.
func (p *progress) openMetrics(path string) error {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s)", path, regularfile.Kind(st.Mode()))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if err := cutTornLine(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	p.metrics = f
	return nil
}

// cutTornLine truncates f after its last newline when it does not end
// with one.
func cutTornLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	const chunk = 4096
	buf := make([]byte, chunk)
	for end := st.Size(); end > 0; {
		start := max(end-chunk, 0)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			keep := start + int64(i) + 1
			if keep == st.Size() {
				return nil
			}
			return f.Truncate(keep)
		}
		end = start
	}
	return f.Truncate(0)
}

// observe is the ovd.Observer. ovd may call it from its worker goroutine.
func (p *progress) observe(e ovd.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if _, ok := p.start[e.Phase]; !ok {
		p.start[e.Phase] = now.Add(-e.Elapsed)
		if e.Epochs > 0 && e.Steps > 0 && e.Epoch > 1 {
			p.startDone[e.Phase] = float64(e.Epoch-1) / float64(e.Epochs)
		}
		p.phases = append(p.phases, e.Phase)
	}
	p.writeMetric(now, e)
	p.final[e.Phase] = e
	head, vals, tail := p.formatParts(now, e)
	line := head + strings.Join(vals, "") + tail
	switch {
	case p.tty:
		if p.lineOpen && p.phase != e.Phase {
			fmt.Fprintln(p.w)
			p.lineOpen = false
		}
		if !e.EpochEnd && p.phase == e.Phase && now.Sub(p.lastDraw) < p.redrawEvery {
			return
		}
		p.phase = e.Phase
		fmt.Fprintf(p.w, "\r\033[K%s", fitLine(head, vals, tail, p.width()))
		p.lineOpen = true
		p.lastDraw = now
		if e.EpochEnd {
			fmt.Fprintln(p.w)
			p.lineOpen = false
		}
	default:
		if !e.EpochEnd && p.phase == e.Phase && now.Sub(p.lastDraw) < p.plainEvery {
			return
		}
		p.phase = e.Phase
		p.lastDraw = now
		fmt.Fprintln(p.w, line)
	}
}

// format renders one progress line: phase, epoch k/K, batch i/N, images/s,
// the loss parts and the ETA of the whole phase.
func (p *progress) format(now time.Time, e ovd.Event) string {
	head, vals, tail := p.formatParts(now, e)
	return head + strings.Join(vals, "") + tail
}

// formatParts is format's line in three parts, so that a live line too
// wide for the terminal can give up whole values: the head (phase, epoch,
// batch, images/s), the values (" name value" each) and the tail (" ETA
// ..." or " done in ...").
func (p *progress) formatParts(now time.Time, e ovd.Event) (head string, vals []string, tail string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s", e.Phase)
	if e.Epochs > 0 {
		fmt.Fprintf(&b, " epoch %d/%d", e.Epoch, e.Epochs)
	} else if e.Epoch > 0 {
		// A pass inside an epoch (validate): which epoch it checks.
		fmt.Fprintf(&b, " epoch %d", e.Epoch)
	}
	if e.Steps > 0 && e.Step == 0 {
		// Phases that count images rather than batches (fit, score,
		// validate).
		fmt.Fprintf(&b, " images %d/%d", e.Images, e.Steps)
	} else if e.Steps > 0 {
		fmt.Fprintf(&b, " batch %d/%d", e.Step, e.Steps)
	} else if e.Step > 0 {
		fmt.Fprintf(&b, " batch %d", e.Step)
	}
	if s := e.Elapsed.Seconds(); s > 0 && e.Images > 0 {
		fmt.Fprintf(&b, " %s img/s", rate(float64(e.Images)/s))
	}
	for _, k := range orderedKeys(e.Values) {
		vals = append(vals, fmt.Sprintf(" %s %s", k, num4(e.Values[k])))
	}
	if e.EpochEnd && (e.Epochs == 0 || e.Epoch >= e.Epochs) {
		tail = " done in " + shortDur(now.Sub(p.start[e.Phase]))
	} else if eta, ok := p.eta(now, e); ok {
		tail = " ETA " + shortDur(eta)
	}
	return b.String(), vals, tail
}

// eta extrapolates the phase's wall time (which includes whatever runs
// between its steps, such as validation) from the fraction of its steps
// done.
func (p *progress) eta(now time.Time, e ovd.Event) (time.Duration, bool) {
	step := e.Step
	if step == 0 {
		step = e.Images // a phase counting images: Steps is the total
	}
	if e.Steps <= 0 || step <= 0 {
		return 0, false
	}
	epochs, epoch := e.Epochs, e.Epoch
	if epochs <= 0 {
		// One pass, which may recur (validate, once an epoch): its own
		// elapsed time is the measure, not the time since its first event.
		if step > e.Steps || e.Elapsed <= 0 {
			return 0, false
		}
		done := float64(step) / float64(e.Steps)
		return time.Duration(float64(e.Elapsed) * (1 - done) / done), true
	}
	done := float64((epoch-1)*e.Steps+step) / float64(epochs*e.Steps)
	doneHere := done - p.startDone[e.Phase]
	if doneHere <= 0 || done > 1 {
		return 0, false
	}
	el := now.Sub(p.start[e.Phase])
	if el <= 0 {
		return 0, false
	}
	return time.Duration(float64(el) * (1 - done) / doneHere), true
}

// orderedKeys puts the loss parts first, in the order a reader expects,
// then the rest alphabetically.
func orderedKeys(m map[string]float64) []string {
	first := []string{"loss", "triplet", "kl"}
	var out, rest []string
	for _, k := range first {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	for k := range m {
		if !contains(first, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func num4(v float64) string {
	return strings.TrimSpace(fmt.Sprintf("%.4g", v))
}

func rate(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// shortDur prints a duration to the second: 45s, 3m07s, 2h05m.
func shortDur(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

// metricRecord is one line of metrics.jsonl. Values sit under "values" so
// that their names never collide with the fixed fields.
type metricRecord struct {
	Time     string              `json:"time"`
	Phase    string              `json:"phase"`
	Epoch    int                 `json:"epoch,omitempty"`
	Epochs   int                 `json:"epochs,omitempty"`
	Step     int                 `json:"step"`
	Steps    int                 `json:"steps,omitempty"`
	Images   int                 `json:"images"`
	Elapsed  float64             `json:"elapsed_s"`
	EpochEnd bool                `json:"epoch_end,omitempty"`
	Values   map[string]*float64 `json:"values,omitempty"`
}

func (p *progress) writeMetric(now time.Time, e ovd.Event) {
	if p.metrics == nil || p.merr != nil {
		return
	}
	r := metricRecord{Time: now.UTC().Format(time.RFC3339Nano), Phase: e.Phase, Epoch: e.Epoch, Epochs: e.Epochs,
		Step: e.Step, Steps: e.Steps, Images: e.Images, Elapsed: e.Elapsed.Seconds(), EpochEnd: e.EpochEnd}
	if len(e.Values) > 0 {
		r.Values = make(map[string]*float64, len(e.Values))
		for k, v := range e.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				r.Values[k] = nil // JSON has no NaN: null says "not a number" here
				continue
			}
			v := v
			r.Values[k] = &v
		}
	}
	b, err := json.Marshal(r)
	if err == nil {
		b = append(b, '\n')
		_, err = p.metrics.Write(b)
	}
	p.merr = err
}

// endLine ends the live line, so that what is printed next (the results
// table) starts on a line of its own.
func (p *progress) endLine() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lineOpen {
		fmt.Fprintln(p.w)
		p.lineOpen = false
	}
}

// close ends the live line and flushes metrics.jsonl.
func (p *progress) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lineOpen {
		fmt.Fprintln(p.w)
		p.lineOpen = false
	}
	if p.metrics == nil {
		return nil
	}
	err := p.merr
	if cerr := p.metrics.Close(); err == nil {
		err = cerr
	}
	p.metrics = nil
	if err != nil {
		return fmt.Errorf("metrics.jsonl: %w", err)
	}
	return nil
}

// summary writes the table of the last event of every phase (for the
// epoch phases, the last epoch's summary).
func (p *progress) summary(w io.Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.final) == 0 {
		return
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tepoch\timages\ttime\timg/s\tlast values")
	for _, ph := range p.phases {
		e, ok := p.final[ph]
		if !ok {
			continue
		}
		ep := "-"
		if e.Epochs > 0 {
			ep = fmt.Sprintf("%d/%d", e.Epoch, e.Epochs)
		}
		r := "-"
		if s := e.Elapsed.Seconds(); s > 0 && e.Images > 0 {
			r = rate(float64(e.Images) / s)
		}
		var vals []string
		for _, k := range orderedKeys(e.Values) {
			vals = append(vals, k+" "+num4(e.Values[k]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", ph, ep, e.Images, shortDur(e.Elapsed), r, strings.Join(vals, "  "))
	}
	tw.Flush()
	width := 0
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		width = termWidth(f)
	}
	col := strings.Index(buf.String(), "last values")
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		io.WriteString(w, wrapColumn(line, col, width))
	}
}

// wrapColumn wraps the last column of a table row, which starts at column
// col, onto lines indented to it, so that no line is as wide as a terminal
// of width columns (0: unknown, no wrap). The values are "name value"
// pairs two spaces apart, which stay whole.
func wrapColumn(line string, col, width int) string {
	body := strings.TrimSuffix(line, "\n")
	if width <= 1 || col <= 0 || len(body) < width || col >= len(body) || col+20 > width {
		return line
	}
	var b strings.Builder
	cur := body[:col]
	fresh := true
	for _, pair := range strings.Split(body[col:], "  ") {
		if !fresh && len(cur)+2+len(pair) >= width {
			b.WriteString(strings.TrimRight(cur, " ") + "\n")
			cur, fresh = strings.Repeat(" ", col), true
		}
		if !fresh {
			cur += "  "
		}
		cur += pair
		fresh = false
	}
	b.WriteString(cur + "\n")
	return b.String()
}
