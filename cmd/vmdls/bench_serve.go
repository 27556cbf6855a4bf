package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/ovd"
	"github.com/vmdls-go/vmdls/ovd/serve"
)

// serveBenchResult is the JSON line bench serve prints per client count.
type serveBenchResult struct {
	Bench        string  `json:"bench"`
	Clients      int     `json:"clients"`
	Seconds      float64 `json:"seconds"`
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	ImagesPerSec float64 `json:"images_per_sec"`
	P50ms        float64 `json:"p50_ms"`
	P99ms        float64 `json:"p99_ms"`
	// MeanBatch is the mean images per forward pass the server reports
	// (/metrics), 0 when it does not say.
	MeanBatch float64 `json:"mean_batch"`
	MaxBatch  int     `json:"max_batch,omitempty"`
	MaxWait   string  `json:"max_wait,omitempty"`
}

// runBenchServe is `vmdls bench serve`: a load test of the scoring
// endpoint on loopback. For each client count, that many clients each
// POST one PNG at a time, as fast as answers come, for --duration or
// until --max_requests requests in all; it prints throughput and latency
// percentiles as one JSON line per count. Without --url the server runs
// in this process (vmdls serve's code, on 127.0.0.1), and a first line
// gives the library's own throughput on batches of --max_batch.
func runBenchServe(args []string, stdout, stderr io.Writer) error {
	const synopsis = "bench serve --detector FILE [--clients 1,8,64] [--duration 10s] [flags]"
	fs := commandFlags("bench serve")
	detPath := fs.String("detector", "", "the detector file; the server runs in this process on loopback")
	url := fs.String("url", "", "load a running vmdls serve at this base URL instead (http://127.0.0.1:8080)")
	clientsFlag := fs.String("clients", "1,8,64", "comma-separated numbers of concurrent clients, one run each")
	duration := fs.Duration("duration", 10*time.Second, "length of each run")
	maxRequests := fs.Int("max_requests", 1000000, "most requests of each run")
	input := fs.String("input", "mnist:test", "the images sent, as vmdls score's INPUT (a dataset split, folder or archive)")
	limit := fs.Int("limit", 256, "images of --input kept as request bodies, sent in turn")
	dataDir := dataDirFlag(fs)
	d := serve.DefaultOptions()
	maxBatch := fs.Int("max_batch", d.MaxBatch, "the in-process server's --max_batch")
	maxWait := fs.Duration("max_wait", d.MaxWait, "the in-process server's --max_wait")
	rest, err := parseWithNames(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, synopsis, "Requests of one image each; latency is the client's, from sending to the\nwhole answer. The server's --max_in_flight is the largest client count.", fs)
		return errHelpShown
	}
	if err != nil {
		return parseFailed(synopsis, fs, err, stdout)
	}
	var clients []int
	for _, f := range strings.Split(*clientsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return usageErrorf("bench serve: --clients %q: want numbers from 1 to 4096, comma-separated", *clientsFlag)
		}
		clients = append(clients, n)
	}
	switch {
	case len(rest) > 0:
		return usageErrorf("bench serve: unexpected argument %q", rest[0])
	case (*detPath == "") == (*url == ""):
		return usageErrorf("bench serve: give --detector FILE (a server in this process) or --url of a running one")
	case *duration <= 0 || *maxRequests < 1 || *limit < 1:
		return usageErrorf("bench serve: --duration, --max_requests and --limit must be above 0")
	case *maxBatch < 1 || *maxWait < 0:
		return usageErrorf("bench serve: --max_batch must be at least 1 and --max_wait 0 or more")
	}
	classes := 0
	var det *ovd.Detector
	if *detPath != "" {
		if det, err = ovd.LoadDetector(*detPath); err != nil {
			return usageErrorf("bench serve: --detector: %v", err)
		}
		classes = len(det.Classes())
	}
	bodies, err := benchBodies(*input, data.Options{Dir: *dataDir, ClassNum: classes}, *limit)
	if err != nil {
		return usageErrorf("bench serve: --input: %v", err)
	}
	base := strings.TrimSuffix(*url, "/")
	enc := json.NewEncoder(stdout)
	if det != nil {
		r, err := offlineRun(det, bodies, *maxBatch, *duration)
		if err != nil {
			return &exitError{1, fmt.Errorf("bench serve: offline: %w", err)}
		}
		enc.Encode(r)
		opt := serve.Options{MaxBatch: *maxBatch, MaxWait: *maxWait, MaxInFlight: slices.Max(clients),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		srv := serve.New(det, opt)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return &exitError{1, fmt.Errorf("bench serve: %w", err)}
		}
		hs := serve.NewHTTPServer(ln.Addr().String(), srv)
		go hs.Serve(ln)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			hs.Shutdown(ctx)
			srv.Close()
		}()
		base = "http://" + ln.Addr().String()
	}
	for _, n := range clients {
		r, err := loadRun(base, bodies, n, *duration, *maxRequests)
		if err != nil {
			return &exitError{1, fmt.Errorf("bench serve: %d clients: %w", n, err)}
		}
		if det != nil {
			r.MaxBatch, r.MaxWait = *maxBatch, maxWait.String()
		}
		enc.Encode(r)
	}
	return nil
}

// offlineResult is the first line of bench serve with --detector: the
// library's ScoreImages on batches of --max_batch decoded images, the
// most the server can do with one forward pass at a time.
type offlineResult struct {
	Bench        string  `json:"bench"`
	Batch        int     `json:"batch"`
	Seconds      float64 `json:"seconds"`
	Images       int     `json:"images"`
	ImagesPerSec float64 `json:"images_per_sec"`
}

// offlineRun scores the bodies' images through the library in batches of
// batch for d (at least one batch), as the baseline of the HTTP runs.
func offlineRun(det *ovd.Detector, bodies [][]byte, batch int, d time.Duration) (offlineResult, error) {
	imgs := make([]image.Image, batch)
	for i := range imgs {
		img, err := png.Decode(bytes.NewReader(bodies[i%len(bodies)]))
		if err != nil {
			return offlineResult{}, err
		}
		imgs[i] = img
	}
	if _, err := det.ScoreImages(context.Background(), imgs); err != nil { // warm-up
		return offlineResult{}, err
	}
	start := time.Now()
	n := 0
	for n == 0 || time.Since(start) < d {
		if _, err := det.ScoreImages(context.Background(), imgs); err != nil {
			return offlineResult{}, err
		}
		n += batch
	}
	secs := time.Since(start).Seconds()
	return offlineResult{Bench: "serve-offline", Batch: batch, Seconds: secs, Images: n, ImagesPerSec: float64(n) / secs}, nil
}

// benchBodies encodes the first limit images of input as PNG bodies.
func benchBodies(input string, opt data.Options, limit int) ([][]byte, error) {
	srcs, err := scoreInputs([]string{input}, opt, limit)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	stop := errors.New("enough")
	err = srcs[0].each(func(_ string, img image.Image) error {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			return err
		}
		if out = append(out, b.Bytes()); len(out) == limit {
			return stop
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return nil, err
	}
	return out, nil
}

// loadRun is one run of n clients against base; a warm-up of a request
// per client comes first and is not counted.
func loadRun(base string, bodies [][]byte, n int, d time.Duration, maxRequests int) (serveBenchResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	post := func(b []byte) (bool, error) {
		resp, err := c.Post(base+"/v1/score", "image/png", bytes.NewReader(b))
		if err != nil {
			return false, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); post(bodies[i%len(bodies)]) }()
	}
	wg.Wait()
	sum0, count0 := batchStats(c, base)
	var mu sync.Mutex
	var lat []time.Duration
	errs, sent := 0, 0
	var firstErr error
	start := time.Now()
	deadline := start.Add(d)
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for i := k; time.Now().Before(deadline); i += n {
				mu.Lock()
				if sent >= maxRequests {
					mu.Unlock()
					break
				}
				sent++
				mu.Unlock()
				t0 := time.Now()
				ok, err := post(bodies[i%len(bodies)])
				if err != nil || !ok {
					bad++
					mu.Lock()
					if firstErr == nil && err != nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat, errs = append(lat, mine...), errs+bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if len(lat) == 0 {
		return serveBenchResult{}, fmt.Errorf("no request succeeded (%d failed; first error: %v)", errs, firstErr)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := min(len(lat)-1, int(p*float64(len(lat))))
		return float64(lat[i].Microseconds()) / 1000
	}
	r := serveBenchResult{Bench: "serve", Clients: n, Seconds: secs, Requests: len(lat) + errs, Errors: errs,
		ImagesPerSec: float64(len(lat)) / secs, P50ms: pct(0.50), P99ms: pct(0.99)}
	if sum1, count1 := batchStats(c, base); count1 > count0 {
		r.MeanBatch = (sum1 - sum0) / (count1 - count0)
	}
	return r, nil
}

// batchStats reads the batch size histogram's sum and count from the
// server's /metrics (zeros when it has none).
func batchStats(c *http.Client, base string) (sum, count float64) {
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		x, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			continue
		}
		switch name {
		case "vmdls_batch_images_sum":
			sum = x
		case "vmdls_batch_images_count":
			count = x
		}
	}
	return sum, count
}
