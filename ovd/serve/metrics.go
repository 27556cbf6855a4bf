package serve

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"
)

// latencyBuckets are the upper bounds, in seconds, of the request latency
// histogram: from a cached small image to a request that waits its turn
// behind full batches.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// batchBuckets are the upper bounds of the batch size histogram.
var batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}

// metrics are the server's counters, written by hand in the Prometheus
// text exposition format (version 0.0.4) so that the server needs nothing
// beyond the standard library.
type metrics struct {
	mu        sync.Mutex
	requests  map[int]uint64 // by HTTP status
	latency   histogram
	batches   histogram
	images    uint64
	unknown   uint64
	inFlight  int
	startTime time.Time
}

type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func newHistogram(bounds []float64) histogram {
	return histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v)
	h.counts[i]++
	h.sum += v
	h.n++
}

func (h *histogram) write(w io.Writer, name string) {
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", name, strconv.FormatFloat(b, 'g', -1, 64), cum)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", name, h.n, name, strconv.FormatFloat(h.sum, 'g', -1, 64), name, h.n)
}

func newMetrics() *metrics {
	return &metrics{requests: map[int]uint64{}, latency: newHistogram(latencyBuckets),
		batches: newHistogram(batchBuckets), startTime: time.Now()}
}

// request records a finished scoring request.
func (m *metrics) request(status int, d time.Duration) {
	m.mu.Lock()
	m.requests[status]++
	m.latency.observe(d.Seconds())
	m.mu.Unlock()
}

// scored records the verdicts of a request's images.
func (m *metrics) scored(images, unknown int) {
	m.mu.Lock()
	m.images += uint64(images)
	m.unknown += uint64(unknown)
	m.mu.Unlock()
}

func (m *metrics) batch(n int) {
	m.mu.Lock()
	m.batches.observe(float64(n))
	m.mu.Unlock()
}

func (m *metrics) addInFlight(d int) {
	m.mu.Lock()
	m.inFlight += d
	m.mu.Unlock()
}

// write writes every metric.
func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprint(w, "# HELP vmdls_http_requests_total Scoring requests answered, by HTTP status.\n# TYPE vmdls_http_requests_total counter\n")
	codes := make([]int, 0, len(m.requests))
	for c := range m.requests {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "vmdls_http_requests_total{code=\"%d\"} %d\n", c, m.requests[c])
	}
	fmt.Fprint(w, "# HELP vmdls_request_duration_seconds Time from a scoring request's arrival to its answer.\n# TYPE vmdls_request_duration_seconds histogram\n")
	m.latency.write(w, "vmdls_request_duration_seconds")
	fmt.Fprint(w, "# HELP vmdls_batch_images Images per forward pass of the micro-batcher.\n# TYPE vmdls_batch_images histogram\n")
	m.batches.write(w, "vmdls_batch_images")
	fmt.Fprintf(w, "# HELP vmdls_images_scored_total Images scored.\n# TYPE vmdls_images_scored_total counter\nvmdls_images_scored_total %d\n", m.images)
	fmt.Fprintf(w, "# HELP vmdls_images_unknown_total Images scored below the detector's threshold.\n# TYPE vmdls_images_unknown_total counter\nvmdls_images_unknown_total %d\n", m.unknown)
	rate := 0.0
	if m.images > 0 {
		rate = float64(m.unknown) / float64(m.images)
	}
	fmt.Fprintf(w, "# HELP vmdls_unknown_rate Fraction of the images scored so far that were unknown.\n# TYPE vmdls_unknown_rate gauge\nvmdls_unknown_rate %s\n", strconv.FormatFloat(rate, 'g', -1, 64))
	fmt.Fprintf(w, "# HELP vmdls_in_flight_requests Scoring requests being handled now.\n# TYPE vmdls_in_flight_requests gauge\nvmdls_in_flight_requests %d\n", m.inFlight)
	fmt.Fprintf(w, "# HELP vmdls_uptime_seconds Seconds since the server started.\n# TYPE vmdls_uptime_seconds gauge\nvmdls_uptime_seconds %s\n", strconv.FormatFloat(time.Since(m.startTime).Seconds(), 'f', 3, 64))
}
