// Package serve is a Detector over HTTP: POST /v1/score takes PNG or JPEG
// images and answers each one's score, class and verdict as JSON; GET
// /healthz, /readyz and /metrics (the Prometheus text format) are for the
// orchestrator. Concurrent requests are micro-batched into one forward
// pass, and every limit a public endpoint needs is enforced before the
// work it bounds: body bytes, declared pixels, images per request,
// requests in flight and time. Only the standard library is used.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/vmdls-go/vmdls/internal/microbatch"
	"github.com/vmdls-go/vmdls/ovd"
)

// Options configure a Server; the zero value of a field takes the default
// DefaultOptions gives.
type Options struct {
	// MaxBatch is the most images of one forward pass, and MaxWait how
	// long the first request of a batch waits for others to join it.
	MaxBatch int
	MaxWait  time.Duration
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// Limits bound the images of one request.
	Limits Limits
	// Timeout bounds a scoring request from its arrival to its answer,
	// body included (NewHTTPServer sets the read deadline from it).
	Timeout time.Duration
	// MaxInFlight is the most scoring requests handled at once; beyond it
	// a request is answered 503 at once, with Retry-After.
	MaxInFlight int
	// Logger receives one record per scoring request (nil: slog.Default()).
	Logger *slog.Logger
}

// DefaultOptions are the settings of `vmdls serve` without flags.
func DefaultOptions() Options {
	return Options{MaxBatch: 64, MaxWait: 2 * time.Millisecond, MaxBodyBytes: 8 << 20,
		Limits: Limits{MaxImages: 256, MaxPixels: 4 << 20}, Timeout: 10 * time.Second, MaxInFlight: 64}
}

func (o *Options) fill() {
	d := DefaultOptions()
	if o.MaxBatch <= 0 {
		o.MaxBatch = d.MaxBatch
	}
	if o.MaxWait < 0 {
		o.MaxWait = 0
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = d.MaxBodyBytes
	}
	if o.Limits.MaxImages <= 0 {
		o.Limits.MaxImages = d.Limits.MaxImages
	}
	if o.Limits.MaxPixels <= 0 {
		o.Limits.MaxPixels = d.Limits.MaxPixels
	}
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = d.MaxInFlight
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Server is the HTTP handler of a Detector. It is safe for concurrent
// use; Close stops its batcher once the HTTP server is shut down.
type Server struct {
	det      *ovd.Detector
	opt      Options
	batch    *microbatch.Batcher[image.Image, ovd.ScoreResult]
	slots    chan struct{}
	metrics  *metrics
	draining atomic.Bool
	mux      *http.ServeMux
}

// New returns the Server of det.
func New(det *ovd.Detector, opt Options) *Server {
	opt.fill()
	s := &Server{det: det, opt: opt, slots: make(chan struct{}, opt.MaxInFlight), metrics: newMetrics(), mux: http.NewServeMux()}
	s.batch = microbatch.New(func(ctx context.Context, imgs []image.Image) ([]ovd.ScoreResult, error) {
		// Log-densities are computed for every image anyway; asking for
		// them costs a slice each, and a batch serves both kinds of call.
		return det.ScoreImages(ctx, imgs, ovd.WithLogDensities())
	}, opt.MaxBatch, opt.MaxWait)
	s.batch.Batches = s.metrics.batch
	s.mux.HandleFunc("/v1/score", s.score)
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	s.mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.metrics.write(w)
	})
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: POST /v1/score, GET /healthz, /readyz, /metrics")
	})
	return s
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Drain makes /readyz answer 503, so that a load balancer stops sending
// requests before the HTTP server shuts down; requests still arriving are
// served.
func (s *Server) Drain() { s.draining.Store(true) }

// Close stops the batcher: call it after http.Server.Shutdown has
// finished the requests in flight.
func (s *Server) Close() { s.batch.Close() }

// Result is one image's answer in a /v1/score response.
type Result struct {
	// Name is the multipart file name (or form name); "body" for a body
	// that is one image.
	Name       string  `json:"name"`
	Score      float64 `json:"score"`
	Class      string  `json:"class"`
	ClassIndex int     `json:"class_index"`
	Unknown    bool    `json:"unknown"`
	// LogDensities are the per-class l_c(x), by class index, with
	// ?log_densities=1.
	LogDensities []float64 `json:"log_densities,omitempty"`
}

// Response is the body of a successful /v1/score.
type Response struct {
	Results []Result `json:"results"`
	// Threshold is the detector's: a score below it is unknown.
	Threshold float64 `json:"threshold"`
}

func (s *Server) score(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	status, n, unknown := s.scoreRequest(w, r)
	d := time.Since(start)
	s.metrics.request(status, d)
	s.metrics.scored(n, unknown)
	s.opt.Logger.LogAttrs(r.Context(), slog.LevelInfo, "score", slog.Int("status", status), slog.Int("images", n),
		slog.Int("unknown", unknown), slog.Duration("duration", d), slog.String("remote", r.RemoteAddr))
}

// scoreRequest answers one /v1/score request and returns its status and
// the images scored and found unknown.
func (s *Server) scoreRequest(w http.ResponseWriter, r *http.Request) (status, images, unknown int) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return writeError(w, http.StatusMethodNotAllowed, "POST an image to /v1/score"), 0, 0
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		return writeError(w, http.StatusServiceUnavailable, "server busy: "+strconv.Itoa(s.opt.MaxInFlight)+" requests in flight"), 0, 0
	}
	s.metrics.addInFlight(1)
	defer s.metrics.addInFlight(-1)
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.Timeout)
	defer cancel()
	// The body's deadline too, so that a slow client is cut off also under
	// an http.Server without a ReadTimeout (an error here means the writer
	// cannot do it, as httptest's recorder cannot).
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.opt.Timeout))
	logd, err := boolQuery(r, "log_densities")
	if err != nil {
		return writeRequestError(w, err), 0, 0
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes), s.opt.MaxBodyBytes)
	if err != nil {
		return writeRequestError(w, err), 0, 0
	}
	imgs, err := decodeRequest(r.Header.Get("Content-Type"), body, s.opt.Limits)
	if err != nil {
		return writeRequestError(w, err), 0, 0
	}
	in := make([]image.Image, len(imgs))
	for i, im := range imgs {
		in[i] = im.img
	}
	res, err := s.batch.Submit(ctx, in)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return writeError(w, http.StatusServiceUnavailable, "timed out waiting for the model"), 0, 0
	case errors.Is(err, context.Canceled):
		// The client went away: nobody reads the answer.
		return 499, 0, 0
	case errors.Is(err, microbatch.ErrClosed):
		return writeError(w, http.StatusServiceUnavailable, "shutting down"), 0, 0
	case err != nil:
		return writeError(w, http.StatusUnprocessableEntity, err.Error()), 0, 0
	}
	out := Response{Results: make([]Result, len(res)), Threshold: s.det.Threshold().Value}
	for i, r := range res {
		out.Results[i] = Result{Name: imgs[i].name, Score: r.Score, Class: r.ClassName, ClassIndex: r.Class, Unknown: r.Unknown}
		if logd {
			out.Results[i].LogDensities = r.LogDensities
		}
		if r.Unknown {
			unknown++
		}
	}
	return writeJSON(w, http.StatusOK, out), len(res), unknown
}

// boolQuery reads an optional boolean query parameter.
func boolQuery(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, refuse(http.StatusBadRequest, "query %s=%q: want true or false (1 or 0)", name, v)
	}
	return b, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
	return status
}

// ErrorResponse is the body of every refused request.
type ErrorResponse struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) int {
	return writeJSON(w, status, ErrorResponse{msg})
}

func writeRequestError(w http.ResponseWriter, err error) int {
	var re *requestError
	if errors.As(err, &re) {
		if re.status == http.StatusRequestEntityTooLarge || re.status == http.StatusRequestTimeout {
			// What is left of the body is not worth reading.
			w.Header().Set("Connection", "close")
		}
		return writeError(w, re.status, re.msg)
	}
	return writeError(w, http.StatusBadRequest, err.Error())
}

// NewHTTPServer is an http.Server for s at addr with the deadlines a
// public endpoint needs: the headers within 5 s, the whole body within
// opt.Timeout (a slow client gets 408 and loses its connection, not a
// goroutine held forever), idle keep-alive connections closed after a
// minute.
func NewHTTPServer(addr string, s *Server) *http.Server {
	return &http.Server{Addr: addr, Handler: s, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: s.opt.Timeout,
		WriteTimeout: s.opt.Timeout + 5*time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.opt.Logger.Handler(), slog.LevelWarn)}
}
