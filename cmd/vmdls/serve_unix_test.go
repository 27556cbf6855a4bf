//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/ovd/serve"
)

// TestServeRoundTrip: the images of mnist:test get the same scores, bit
// for bit, from `vmdls score` (CSV), from `vmdls serve` one image a
// request and all in one multipart request, and (through score's test)
// from the library. SIGTERM with a request in flight (its body half sent)
// lets that request finish with 200, then the server stops cleanly.
func TestServeRoundTrip(t *testing.T) {
	fx := toyDetector(t)
	const n = 16
	rows := scoreRows(t, "--detector", fx.detPath, "--data_dir", fx.dataDir, "--limit", strconv.Itoa(n), "mnist:test")
	set := openToyTest(t, fx)

	addrc := make(chan string, 1)
	serveListening = func(a string) { addrc <- a }
	defer func() { serveListening = nil }()
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"serve", "--detector", fx.detPath, "--addr", "127.0.0.1:0", "--max_batch", "8", "--max_wait", "5ms", "--log_format", "json"}, &bytes.Buffer{}, &logs)
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve never listened")
	}
	url := "http://" + addr + "/v1/score"
	c := &http.Client{Timeout: 30 * time.Second}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for i := range n {
		im, err := set.Image(i)
		if err != nil {
			t.Fatal(err)
		}
		b := pngBytes(t, goImage(im))
		var r serve.Response
		postJSON(t, c, url, "image/png", b, &r)
		if len(r.Results) != 1 || strconv.FormatFloat(r.Results[0].Score, 'g', -1, 64) != rows[i][1] || r.Results[0].Class != rows[i][2] ||
			strconv.FormatBool(r.Results[0].Unknown) != rows[i][3] {
			t.Errorf("image %d: serve %+v, score %v", i, r.Results, rows[i])
		}
		w, _ := mw.CreateFormFile("image", rows[i][0])
		w.Write(b)
	}
	mw.Close()
	var all serve.Response
	postJSON(t, c, url, mw.FormDataContentType(), mp.Bytes(), &all)
	if len(all.Results) != n {
		t.Fatalf("multipart: %d results, want %d", len(all.Results), n)
	}
	for i, r := range all.Results {
		if r.Name != rows[i][0] || strconv.FormatFloat(r.Score, 'g', -1, 64) != rows[i][1] {
			t.Errorf("multipart result %d: %+v, score %v", i, r, rows[i])
		}
	}
	// A request in flight when SIGTERM comes.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	im, _ := set.Image(0)
	b := pngBytes(t, goImage(im))
	fmt.Fprintf(conn, "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", len(b))
	conn.Write(b[:20])
	time.Sleep(100 * time.Millisecond) // the server reads the headers
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	conn.Write(b[20:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight at SIGTERM: %v", err)
	}
	var last serve.Response
	json.NewDecoder(resp.Body).Decode(&last)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(last.Results) != 1 || strconv.FormatFloat(last.Results[0].Score, 'g', -1, 64) != rows[0][1] {
		t.Errorf("the request in flight at SIGTERM: %s %+v", resp.Status, last)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	// The logs are slog's JSON records: the start, a record per request,
	// the shutdown.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != n+2+3 {
		t.Errorf("%d log lines, want %d:\n%s", len(lines), n+5, logs.String())
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["msg"] == nil {
			t.Errorf("log line %q is not a slog JSON record", l)
		}
	}
}

func postJSON(t *testing.T, c *http.Client, url, ct string, body []byte, v any) {
	t.Helper()
	resp, err := c.Post(url, ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// openToyTest opens the fixture's mnist test split.
func openToyTest(t *testing.T, fx toyFixture) *data.Set {
	t.Helper()
	set, err := data.Open("mnist", data.Test, data.Options{Dir: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	return set
}
