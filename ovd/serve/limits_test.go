package serve

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestInFlightLimitAndMetrics: with one request in flight (its body still
// uploading) and --max_in_flight 1, the next is 503 at once with
// Retry-After and a JSON error; the first then completes. /metrics counts
// both by status, the images and the latency; /readyz turns 503 on Drain
// while /healthz stays 200.
func TestInFlightLimitAndMetrics(t *testing.T) {
	det := testDetector(t)
	url, s, _ := startServer(t, det, Options{MaxInFlight: 1, Timeout: 5 * time.Second})
	good := encodePNG(t, grayImage(4))
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", len(good))
	conn.Write(good[:10])
	c := &http.Client{Timeout: 10 * time.Second}
	// The first request takes its slot once its headers are read: wait
	// for the gauge to say so.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(metricsText(t, c, url), "vmdls_in_flight_requests 1") {
		if time.Now().After(deadline) {
			t.Fatal("the first request never got in flight")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := c.Post(url+"/v1/score", "image/png", bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !bytes.Contains(b, []byte(`"error"`)) {
		t.Errorf("second request: %d Retry-After %q %q, want 503 with Retry-After and a JSON error", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	conn.Write(good[10:])
	first, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	if first.StatusCode != 200 {
		t.Errorf("first request: %d, want 200", first.StatusCode)
	}

	m := metricsText(t, c, url)
	for _, line := range []string{
		`vmdls_http_requests_total{code="200"} 1`,
		`vmdls_http_requests_total{code="503"} 1`,
		`vmdls_request_duration_seconds_count 2`,
		`vmdls_request_duration_seconds_bucket{le="+Inf"} 2`,
		`vmdls_images_scored_total 1`,
		`vmdls_batch_images_count 1`,
		"# TYPE vmdls_unknown_rate gauge",
	} {
		if !strings.Contains(m, line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, m)
		}
	}

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/nope": 404} {
		if code := getCode(t, c, url+path); code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
	s.Drain()
	if code := getCode(t, c, url+"/readyz"); code != 503 {
		t.Errorf("GET /readyz while draining: %d, want 503", code)
	}
	if code := getCode(t, c, url+"/healthz"); code != 200 {
		t.Errorf("GET /healthz while draining: %d, want 200", code)
	}
}

func metricsText(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("/metrics Content-Type %q", resp.Header.Get("Content-Type"))
	}
	return string(b)
}

func getCode(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestSlowClientWithoutServerDeadline: the handler sets the body's read
// deadline itself, so a slow client gets 408 with a JSON error under an
// http.Server that has no ReadTimeout (httptest's), and the server goes on.
func TestSlowClientWithoutServerDeadline(t *testing.T) {
	det := testDetector(t)
	s := New(det, Options{Timeout: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts := httptest.NewServer(s)
	defer func() { ts.Close(); s.Close() }()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n\x89PNG")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !bytes.Contains(b, []byte(`"error"`)) {
		t.Errorf("slow client: %s %q, want 408 with a JSON error", resp.Status, b)
	}
	if code := getCode(t, ts.Client(), ts.URL+"/healthz"); code != 200 {
		t.Errorf("after the slow client: /healthz %d", code)
	}
}
