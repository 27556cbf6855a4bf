package data

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// flakyServer serves content at /f. The first response sends only cut
// bytes and then drops the connection; later ones honour Range.
func flakyServer(t *testing.T, content []byte, cut int) (*httptest.Server, *atomic.Int32, *atomic.Value) {
	var calls atomic.Int32
	var lastRange atomic.Value
	lastRange.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		lastRange.Store(r.Header.Get("Range"))
		start := 0
		if rg := r.Header.Get("Range"); rg != "" {
			fmt.Sscanf(rg, "bytes=%d-", &start)
			if start >= len(content) {
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(content)-1, len(content)))
			w.Header().Set("Content-Length", strconv.Itoa(len(content)-start))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		}
		body := content[start:]
		if n == 1 && cut > 0 {
			w.Write(body[:cut])
			// Abort the connection mid-body.
			if hj, ok := w.(http.Hijacker); ok {
				conn, _, _ := hj.Hijack()
				conn.Close()
			}
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, &lastRange
}

func sums(b []byte) (string, string) {
	m := md5.Sum(b)
	s := sha256.Sum256(b)
	return hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
}

func TestFetchResume(t *testing.T) {
	content := []byte(strings.Repeat("vmdls dataset bytes ", 5000))
	srv, calls, lastRange := flakyServer(t, content, 30000)
	m, s := sums(content)
	rf := RemoteFile{Name: "file.bin", URLs: []string{srv.URL + "/f"}, MD5: m, SHA256: s}
	dir := t.TempDir()
	f := &Fetcher{}
	err := f.FetchFile(context.Background(), rf, dir)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("interrupted transfer: got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "file.bin")); err == nil {
		t.Fatal("partial download placed under the final name")
	}
	st, err := os.Stat(filepath.Join(dir, "file.bin.part"))
	if err != nil || st.Size() != 30000 {
		t.Fatalf("partial file: %v size %v", err, st)
	}
	if err := f.FetchFile(context.Background(), rf, dir); err != nil {
		t.Fatal(err)
	}
	if got := lastRange.Load().(string); got != "bytes=30000-" {
		t.Fatalf("second request Range %q, want bytes=30000-", got)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "file.bin"))
	if string(got) != string(content) {
		t.Fatal("resumed file differs from the original")
	}
	if _, err := os.Stat(filepath.Join(dir, "file.bin.part")); err == nil {
		t.Fatal(".part left behind")
	}
	// Present and verified: no request.
	before := calls.Load()
	if err := f.FetchFile(context.Background(), rf, dir); err != nil || calls.Load() != before {
		t.Fatalf("present file refetched (%v)", err)
	}
}

func TestFetchChecksumMismatch(t *testing.T) {
	content := []byte("the wrong bytes")
	srv, _, _ := flakyServer(t, content, 0)
	rf := RemoteFile{Name: "x.gz", URLs: []string{srv.URL + "/f"}, MD5: "00112233445566778899aabbccddeeff"}
	dir := t.TempDir()
	err := (&Fetcher{}).FetchFile(context.Background(), rf, dir)
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Algo != "md5" {
		t.Fatalf("got %v, want a md5 ChecksumError", err)
	}
	for _, n := range []string{"x.gz", "x.gz.part"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			t.Fatalf("%s kept after a checksum mismatch", n)
		}
	}
	// A corrupt file already in place is reported, not trusted.
	os.WriteFile(filepath.Join(dir, "x.gz"), content, 0o644)
	if err := (&Fetcher{}).FetchFile(context.Background(), rf, dir); !errors.As(err, &ce) {
		t.Fatalf("corrupt present file: %v", err)
	}
}

func TestFetchMirrorAndHTTPError(t *testing.T) {
	content := []byte("good")
	good, _, _ := flakyServer(t, content, 0)
	bad := httptest.NewServer(http.NotFoundHandler())
	defer bad.Close()
	m, _ := sums(content)
	rf := RemoteFile{Name: "g", URLs: []string{bad.URL + "/f", good.URL + "/f"}, MD5: m}
	dir := t.TempDir()
	if err := (&Fetcher{}).FetchFile(context.Background(), rf, dir); err != nil {
		t.Fatalf("second mirror not used: %v", err)
	}
	rf.URLs = rf.URLs[:1]
	rf.Name = "h"
	if err := (&Fetcher{}).FetchFile(context.Background(), rf, dir); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("HTTP 404: got %v", err)
	}
}

// TestOpenMissingAndDownload: without Download a missing dataset names the
// URL, file and folder; with Download it is fetched (from a local server
// standing in for the canonical URL) and opened.
func TestOpenMissingAndDownload(t *testing.T) {
	dir := t.TempDir()
	_, err := Open("mnist", Test, Options{Dir: dir})
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("got %v, want MissingError", err)
	}
	for _, s := range []string{"train-images-idx3-ubyte.gz", filepath.Join(dir, "mnist"), "https://", "vmdls data fetch mnist"} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("message %q lacks %q", err, s)
		}
	}
	files := map[string][]byte{
		"train-images-idx3-ubyte.gz": gz(idxBytes(8, []int{3, 2, 2}, make([]byte, 12))),
		"train-labels-idx1-ubyte.gz": gz(idxBytes(8, []int{3}, []byte{0, 1, 2})),
		"t10k-images-idx3-ubyte.gz":  gz(idxBytes(8, []int{2, 2, 2}, make([]byte, 8))),
		"t10k-labels-idx1-ubyte.gz":  gz(idxBytes(8, []int{2}, []byte{7, 3})),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[filepath.Base(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
	saved := Remotes["mnist"]
	defer func() { Remotes["mnist"] = saved }()
	r := Remote{Folder: "mnist"}
	for _, f := range saved.Files {
		m, s := sums(files[f.Name])
		r.Files = append(r.Files, RemoteFile{Name: f.Name, URLs: []string{srv.URL + "/mnist/" + f.Name}, MD5: m, SHA256: s})
	}
	Remotes["mnist"] = r
	var log strings.Builder
	set, err := Open("mnist", Test, Options{Dir: dir, Download: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 || set.Label(0) != 7 || !strings.Contains(log.String(), "verified") {
		t.Fatalf("downloaded set: %d images, label %d, log %q", set.Len(), set.Label(0), log.String())
	}
	if err := Verify(dir, "mnist"); err != nil {
		t.Fatal(err)
	}
}

// TestKnownSums checks the registry against the real files when present.
func TestKnownSums(t *testing.T) {
	dir := sharedDataDir(t, "mnist")
	if err := Verify(dir, "mnist"); err != nil {
		t.Fatal(err)
	}
}

// TestFetchStalled: a server that never answers, or stops sending midway,
// is abandoned after StallTimeout instead of hanging the download.
func TestFetchStalled(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/midway" {
			w.Header().Set("Content-Length", "1000")
			w.Write(make([]byte, 100))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: unblock the handlers
	for _, path := range []string{"/silent", "/midway"} {
		dir := t.TempDir()
		rf := RemoteFile{Name: "f.bin", URLs: []string{srv.URL + path}}
		start := time.Now()
		err := (&Fetcher{StallTimeout: 200 * time.Millisecond}).FetchFile(context.Background(), rf, dir)
		if err == nil || !strings.Contains(err.Error(), "no data for 200ms") {
			t.Fatalf("%s: got %v, want a stall error", path, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("%s: stall noticed after %v", path, d)
		}
		if path == "/midway" {
			// What arrived is kept to resume from.
			if st, err := os.Stat(filepath.Join(dir, "f.bin.part")); err != nil || st.Size() != 100 {
				t.Fatalf("midway: .part %v %v", st, err)
			}
		}
	}
}

// endlessServer sends zeros until the client goes away, announcing
// announce as Content-Length when it is not empty.
func endlessServer(t *testing.T, announce string) (*httptest.Server, *atomic.Int64) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if announce != "" {
			w.Header().Set("Content-Length", announce)
		}
		buf := make([]byte, 32<<10)
		for {
			n, err := w.Write(buf)
			sent.Add(int64(n))
			if err != nil || sent.Load() > 64<<20 {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &sent
}

// TestFetchSizeLimit: a body longer than the known size, or than
// MaxDownloadBytes when the size is unknown, is refused as soon as it runs
// past, and its .part is removed.
func TestFetchSizeLimit(t *testing.T) {
	srv, _ := endlessServer(t, "")
	dir := t.TempDir()
	rf := RemoteFile{Name: "known.bin", URLs: []string{srv.URL + "/f"}, Size: 100000, MD5: "00112233445566778899aabbccddeeff"}
	err := (&Fetcher{}).FetchFile(context.Background(), rf, dir)
	if err == nil || !strings.Contains(err.Error(), "runs past the file's known size of 100000 bytes") {
		t.Fatalf("endless body, known size: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "known.bin.part")); err == nil {
		t.Fatal(".part of an oversized body kept")
	}
	saved := MaxDownloadBytes
	MaxDownloadBytes = 1 << 20
	defer func() { MaxDownloadBytes = saved }()
	rf = RemoteFile{Name: "unknown.bin", URLs: []string{srv.URL + "/f"}}
	err = (&Fetcher{}).FetchFile(context.Background(), rf, dir)
	if err == nil || !strings.Contains(err.Error(), "MaxDownloadBytes") {
		t.Fatalf("endless body, unknown size: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "unknown.bin.part")); err == nil {
		t.Fatal(".part of an oversized body kept")
	}
	// A Content-Length over the size is refused before any byte is written.
	liar, sent := endlessServer(t, strconv.Itoa(1<<30))
	rf = RemoteFile{Name: "liar.bin", URLs: []string{liar.URL + "/f"}, Size: 5000}
	err = (&Fetcher{}).FetchFile(context.Background(), rf, dir)
	if err == nil || !strings.Contains(err.Error(), "server announces") {
		t.Fatalf("announced size over the limit: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "liar.bin.part")); err == nil {
		t.Fatal("wrote a body whose announced size is over the limit")
	}
	t.Logf("the lying server got %d bytes out before the client hung up", sent.Load())
	// A stored file of the wrong size fails verification without hashing.
	os.WriteFile(filepath.Join(dir, "known.bin"), []byte("short"), 0o644)
	var ce *ChecksumError
	if err := (&Fetcher{}).FetchFile(context.Background(), RemoteFile{Name: "known.bin", URLs: []string{srv.URL}, Size: 100000}, dir); !errors.As(err, &ce) || ce.Algo != "size" {
		t.Fatalf("short stored file: %v", err)
	}
}

// TestRemotesHTTPS: every download URL is HTTPS except the one host that
// cannot serve it (an S3 website endpoint), kept only as a later mirror;
// the default client refuses redirects from HTTPS to HTTP.
func TestRemotesHTTPS(t *testing.T) {
	for name, r := range Remotes {
		for _, rf := range r.Files {
			for i, u := range rf.URLs {
				if strings.HasPrefix(u, "https://") {
					continue
				}
				if i == 0 || !strings.HasPrefix(u, "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/") {
					t.Errorf("%s %s: insecure URL %s", name, rf.Name, u)
				}
			}
		}
	}
	from, _ := http.NewRequest("GET", "https://example.org/a", nil)
	to, _ := http.NewRequest("GET", "http://example.org/b", nil)
	if err := refuseDowngrade(to, []*http.Request{from}); err == nil {
		t.Fatal("https to http redirect allowed")
	}
	up, _ := http.NewRequest("GET", "https://example.org/b", nil)
	if err := refuseDowngrade(up, []*http.Request{from}); err != nil {
		t.Fatal(err)
	}
	if defaultClient.Transport.(*http.Transport).ResponseHeaderTimeout == 0 || defaultClient.Transport.(*http.Transport).TLSHandshakeTimeout == 0 {
		t.Fatal("default client without timeouts")
	}
}
