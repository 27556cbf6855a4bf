package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmdls-go/vmdls/ovd"
)

// startServer serves det on a loopback port through NewHTTPServer (the
// deadlines under test are the http.Server's) and returns its base URL;
// stop (also a cleanup) shuts it down as vmdls serve does.
func startServer(t *testing.T, det *ovd.Detector, opt Options) (url string, s *Server, stop func()) {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s = New(det, opt)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(ln.Addr().String(), s)
	done := make(chan struct{})
	go func() { hs.Serve(ln); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			s.Drain()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := hs.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			<-done
			s.Close()
		})
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), s, stop
}

// post sends body to url and decodes the JSON answer into v.
func post(t *testing.T, c *http.Client, url, contentType string, body []byte, v any) int {
	t.Helper()
	resp, err := c.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST %s: Content-Type %q, body %q", url, ct, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Errorf("POST %s: not JSON (%v): %q", url, err, b)
	}
	return resp.StatusCode
}

// multipartBody is a form with one file part per image.
func multipartBody(t *testing.T, parts map[string][]byte, order []string) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, name := range order {
		w, err := mw.CreateFormFile("image", name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(parts[name])
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func sameResult(t *testing.T, what string, got Result, want ovd.ScoreResult) {
	t.Helper()
	if got.Score != want.Score || got.Class != want.ClassName || got.ClassIndex != want.Class || got.Unknown != want.Unknown {
		t.Errorf("%s: server %+v, library %v %s %d %v", what, got, want.Score, want.ClassName, want.Class, want.Unknown)
	}
}

// TestScoreMatchesLibrary: the server's answer for an image is the
// library's, bit for bit, whether the image comes alone, in a multipart
// request of several, or in a batch with other clients' requests; the
// log-densities come on request only.
func TestScoreMatchesLibrary(t *testing.T) {
	det := testDetector(t)
	// A long MaxWait, so that the concurrent clients below surely share
	// batches.
	url, _, _ := startServer(t, det, Options{MaxBatch: 8, MaxWait: 300 * time.Millisecond})
	c := &http.Client{Timeout: 30 * time.Second}
	var imgs []image.Image
	parts := map[string][]byte{}
	var order []string
	for i := range 6 {
		imgs = append(imgs, grayImage(i))
		name := fmt.Sprintf("img%d.png", i)
		parts[name], order = encodePNG(t, imgs[i]), append(order, name)
	}
	want, err := det.ScoreImages(context.Background(), imgs, ovd.WithLogDensities())
	if err != nil {
		t.Fatal(err)
	}

	var one Response
	if code := post(t, c, url+"/v1/score?log_densities=1", "image/png", parts[order[2]], &one); code != 200 || len(one.Results) != 1 {
		t.Fatalf("one image: %d %+v", code, one)
	}
	sameResult(t, "one image", one.Results[0], want[2])
	if len(one.Results[0].LogDensities) != len(det.Classes()) || one.Results[0].LogDensities[3] != want[2].LogDensities[3] {
		t.Errorf("log-densities %v, want %v", one.Results[0].LogDensities, want[2].LogDensities)
	}
	if one.Threshold != det.Threshold().Value {
		t.Errorf("threshold %v, want %v", one.Threshold, det.Threshold().Value)
	}

	body, ct := multipartBody(t, parts, order)
	var many Response
	if code := post(t, c, url+"/v1/score", ct, body, &many); code != 200 || len(many.Results) != len(order) {
		t.Fatalf("multipart: %d %+v", code, many)
	}
	for i, r := range many.Results {
		if r.Name != order[i] || r.LogDensities != nil {
			t.Errorf("multipart result %d: name %q, log-densities %v (not asked)", i, r.Name, r.LogDensities)
		}
		sameResult(t, "multipart "+order[i], r, want[i])
	}

	// Concurrent clients are batched together; each still gets its own.
	passes0 := metricValue(t, metricsText(t, c, url), "vmdls_batch_images_count")
	var wg sync.WaitGroup
	for k := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := k % len(order)
			var r Response
			if code := post(t, c, url+"/v1/score", "image/png", parts[order[i]], &r); code != 200 || len(r.Results) != 1 {
				t.Errorf("client %d: %d %+v", k, code, r)
				return
			}
			sameResult(t, fmt.Sprintf("client %d", k), r.Results[0], want[i])
		}()
	}
	wg.Wait()
	if passes := metricValue(t, metricsText(t, c, url), "vmdls_batch_images_count") - passes0; passes >= 24 {
		t.Errorf("24 concurrent requests took %v forward passes: nothing was batched", passes)
	}
}

// metricValue is the value of an unlabelled sample in /metrics text.
func metricValue(t *testing.T, text, name string) float64 {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return x
		}
	}
	t.Fatalf("/metrics has no %s:\n%s", name, text)
	return 0
}

// bombPNG is a PNG of a few dozen bytes whose header declares w x h
// pixels (and whose pixel data is missing).
func bombPNG(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // 8-bit gray
	chunk := append([]byte("IHDR"), ihdr...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ihdr)))
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

// settleGoroutines waits for the goroutine count to come back to at most
// want, and reports the count.
func settleGoroutines(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	n := runtime.NumGoroutine()
	for n > want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// TestBadInput: every bad request is a 4xx with a JSON error, the server
// goes on serving good requests, and no goroutine is left behind once it
// is shut down. Images of another size or channel count are converted (as
// ScoreImages converts them): 200, with the library's score.
func TestBadInput(t *testing.T) {
	det := testDetector(t)
	before := runtime.NumGoroutine()
	{
		url, _, stop := startServer(t, det, Options{MaxBodyBytes: 64 << 10, Timeout: 500 * time.Millisecond,
			Limits: Limits{MaxImages: 3, MaxPixels: 200 * 200}})
		c := &http.Client{Timeout: 10 * time.Second}
		good := encodePNG(t, grayImage(1))
		text := []byte("hello, this is not an image\n")
		many, manyCT := multipartBody(t, map[string][]byte{"a": good, "b": good, "c": good, "d": good}, []string{"a", "b", "c", "d"})
		noImage, noImageCT := func() ([]byte, string) {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			mw.WriteField("note", "no image here")
			mw.Close()
			return b.Bytes(), mw.FormDataContentType()
		}()
		for _, c2 := range []struct {
			name, ct string
			body     []byte
			want     int
		}{
			{"empty body", "image/png", nil, 400},
			{"truncated PNG", "image/png", good[:len(good)/2], 400},
			{"PNG header only", "image/png", good[:20], 400},
			{"text file", "text/plain", text, 415},
			{"text file sent as PNG", "image/png", text, 415},
			{"decompression bomb header", "image/png", bombPNG(50000, 50000), 413},
			{"image over the pixel limit", "image/png", encodePNG(t, image.NewGray(image.Rect(0, 0, 300, 300))), 413},
			{"oversized body", "image/png", bytes.Repeat([]byte{0}, 100<<10), 413},
			{"too many images", manyCT, many, 413},
			{"multipart without an image", noImageCT, noImage, 400},
			{"multipart without a boundary", "multipart/form-data", good, 400},
			{"bad Content-Type", "image/png; ===", good, 415},
		} {
			var e ErrorResponse
			if code := post(t, c, url+"/v1/score", c2.ct, c2.body, &e); code != c2.want || e.Error == "" {
				t.Errorf("%s: %d %q, want %d with an error message", c2.name, code, e.Error, c2.want)
			}
		}
		var e ErrorResponse
		if code := post(t, c, url+"/v1/score?log_densities=maybe", "image/png", good, &e); code != 400 || !strings.Contains(e.Error, "log_densities") {
			t.Errorf("bad query: %d %q", code, e.Error)
		}
		resp, err := c.Get(url + "/v1/score")
		if err == nil {
			if resp.StatusCode != 405 {
				t.Errorf("GET /v1/score: %d, want 405", resp.StatusCode)
			}
			resp.Body.Close()
		}

		// A slow client: the headers promise a body that never comes.
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n")
		conn.Write(good[:10])
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		slow, _ := io.ReadAll(conn)
		conn.Close()
		if !bytes.HasPrefix(slow, []byte("HTTP/1.1 408")) || !bytes.Contains(slow, []byte(`{"error":`)) {
			t.Errorf("slow client: %q, want 408 with a JSON error", slow)
		}

		// Converted, not refused: an RGB image of another size.
		rgb := image.NewRGBA(image.Rect(0, 0, 40, 33))
		for y := range 33 {
			for x := range 40 {
				rgb.Set(x, y, color.RGBA{uint8(5 * x), uint8(7 * y), 90, 255})
			}
		}
		want, err := det.ScoreImages(context.Background(), []image.Image{rgb})
		if err != nil {
			t.Fatal(err)
		}
		var r Response
		if code := post(t, c, url+"/v1/score", "image/png", encodePNG(t, rgb), &r); code != 200 || len(r.Results) != 1 {
			t.Fatalf("RGB 40x33: %d %+v", code, r)
		}
		sameResult(t, "RGB 40x33", r.Results[0], want[0])

		// Still serving.
		if code := post(t, c, url+"/v1/score", "image/png", good, &r); code != 200 {
			t.Errorf("a good request after the bad ones: %d", code)
		}
		c.CloseIdleConnections()
		stop()
	}
	if n := settleGoroutines(before); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after the server stopped, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
