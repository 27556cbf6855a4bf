package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vmdls-go/vmdls/ovd"
	"github.com/vmdls-go/vmdls/ovd/serve"
)

// serveListening, when set (by tests), is told the address the server
// listens on once it does.
var serveListening func(addr string)

// runServe is `vmdls serve --detector FILE`: the detector over HTTP until
// SIGINT or SIGTERM, which stop taking connections and finish the
// requests in flight.
func runServe(args []string, stdout, stderr io.Writer) error {
	const synopsis = "serve --detector FILE [--addr 127.0.0.1:8080] [flags]"
	d := serve.DefaultOptions()
	fs := commandFlags("serve")
	detPath := fs.String("detector", "", "the detector file (vmdls fit --out)")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	maxBatch := fs.Int("max_batch", d.MaxBatch, "most images of one forward pass (concurrent requests are batched)")
	maxWait := fs.Duration("max_wait", d.MaxWait, "how long a batch waits for more requests to join it")
	maxBody := fs.Int64("max_body_bytes", d.MaxBodyBytes, "largest request body in bytes (413 beyond)")
	maxImages := fs.Int("max_images", d.Limits.MaxImages, "most images of one multipart request (413 beyond)")
	maxPixels := fs.Int("max_pixels", d.Limits.MaxPixels, "most pixels the images of one request may declare, checked before decoding (413 beyond)")
	timeout := fs.Duration("timeout", d.Timeout, "time a request may take, body upload included (408 for a slow body, 503 for a slow model)")
	maxInFlight := fs.Int("max_in_flight", d.MaxInFlight, "most scoring requests at once (503 beyond, with Retry-After)")
	grace := fs.Duration("shutdown_grace", 30*time.Second, "on SIGTERM, how long requests in flight get to finish")
	logFormat := fs.String("log_format", "text", "log records on stderr as text or json (log/slog)")
	rest, err := parseWithNames(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, synopsis, "POST /v1/score takes a PNG or JPEG body, or multipart/form-data of several,\n"+
			"and answers JSON: per image its score, class and unknown (add ?log_densities=1\n"+
			"for every class's log-density). Images of other sizes or channel counts are\n"+
			"converted as vmdls score converts them. GET /healthz, /readyz (503 while\n"+
			"shutting down) and /metrics (Prometheus text format).", fs)
		return errHelpShown
	}
	if err != nil {
		return parseFailed(synopsis, fs, err, stdout)
	}
	switch {
	case len(rest) > 0:
		return usageErrorf("serve: unexpected argument %q (flags are --name value)", rest[0])
	case *detPath == "":
		return usageErrorf("serve: --detector FILE is required")
	case *maxBatch < 1:
		return usageErrorf("serve: --max_batch %d: want at least 1", *maxBatch)
	case *maxWait < 0:
		return usageErrorf("serve: --max_wait %v: want 0 or more", *maxWait)
	case *maxBody < 1, *maxImages < 1, *maxPixels < 1, *maxInFlight < 1:
		return usageErrorf("serve: --max_body_bytes, --max_images, --max_pixels and --max_in_flight must be at least 1")
	case *timeout <= 0, *grace < 0:
		return usageErrorf("serve: --timeout must be above 0 and --shutdown_grace 0 or more")
	}
	var h slog.Handler
	switch *logFormat {
	case "text":
		h = slog.NewTextHandler(stderr, nil)
	case "json":
		h = slog.NewJSONHandler(stderr, nil)
	default:
		return usageErrorf("serve: --log_format %q: want text or json", *logFormat)
	}
	log := slog.New(h)
	det, err := ovd.LoadDetector(*detPath)
	if err != nil {
		return usageErrorf("serve: --detector: %v", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return usageErrorf("serve: --addr %s: %v", *addr, err)
	}
	srv := serve.New(det, serve.Options{MaxBatch: *maxBatch, MaxWait: *maxWait, MaxBodyBytes: *maxBody,
		Limits: serve.Limits{MaxImages: *maxImages, MaxPixels: *maxPixels}, Timeout: *timeout, MaxInFlight: *maxInFlight, Logger: log})
	hs := serve.NewHTTPServer(ln.Addr().String(), srv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	in := det.Input()
	log.Info("serving", "addr", ln.Addr().String(), "detector", *detPath, "classes", len(det.Classes()),
		"input", fmt.Sprintf("%dx%dx%d", in.Channels, in.Height, in.Width), "threshold", det.Threshold().Value,
		"max_batch", *maxBatch, "max_wait", *maxWait)
	if serveListening != nil {
		serveListening(ln.Addr().String())
	}
	select {
	case err := <-errc:
		srv.Close()
		return &exitError{1, fmt.Errorf("serve: %w", err)}
	case <-ctx.Done():
	}
	stop() // a second signal now kills the process, as it normally would
	log.Info("shutting down: finishing requests in flight", "grace", *grace)
	srv.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	err = hs.Shutdown(sctx)
	srv.Close()
	if err != nil {
		return &exitError{1, fmt.Errorf("serve: shutdown: %w", err)}
	}
	log.Info("stopped")
	return nil
}
