package serve

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
)

// requestError is a request the server refuses: the HTTP status and the
// message of the JSON error.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func refuse(status int, format string, args ...any) error {
	return &requestError{status, fmt.Sprintf(format, args...)}
}

// Limits bound what one request may make the server decode.
type Limits struct {
	// MaxImages is the most images of one multipart request.
	MaxImages int
	// MaxPixels is the most width*height the images of one request may
	// declare in all; each header is read, and checked, before any pixel
	// is decoded, so memory per request is bounded by about 4 bytes a
	// pixel whatever the images claim.
	MaxPixels int
}

// namedImage is a decoded image and what the request called it.
type namedImage struct {
	name string
	img  image.Image
}

// decodeRequest decodes the images of a request body: one PNG or JPEG
// (Content-Type image/png, image/jpeg or application/octet-stream, or
// none: the format is read from the bytes), or multipart/form-data whose
// every file part is one. body is the whole body, already bounded.
func decodeRequest(contentType string, body []byte, lim Limits) ([]namedImage, error) {
	if len(body) == 0 {
		return nil, refuse(http.StatusBadRequest, "empty body: send a PNG or JPEG image, or multipart/form-data of them")
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mt, err = "application/octet-stream", nil
	}
	if err != nil {
		return nil, refuse(http.StatusUnsupportedMediaType, "Content-Type %q: %v", contentType, err)
	}
	switch {
	case mt == "image/png", mt == "image/jpeg", mt == "application/octet-stream":
		img, err := decodeImage(body, "body", lim)
		if err != nil {
			return nil, err
		}
		return []namedImage{{"body", img}}, nil
	case mt == "multipart/form-data":
		return decodeMultipart(body, params["boundary"], lim)
	}
	return nil, refuse(http.StatusUnsupportedMediaType, "Content-Type %q: want image/png, image/jpeg or multipart/form-data", mt)
}

// decodeMultipart decodes every part of a multipart body that carries a
// file (or, without a file name, image bytes); other form fields are
// ignored.
func decodeMultipart(body []byte, boundary string, lim Limits) ([]namedImage, error) {
	if boundary == "" {
		return nil, refuse(http.StatusBadRequest, "multipart/form-data without a boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var out []namedImage
	used := 0 // pixels decoded so far
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "multipart body: %v", err)
		}
		name := p.FileName()
		if name == "" {
			name = p.FormName()
		}
		// The body is already in memory and bounded, so a part is too.
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "multipart part %q: %v", name, err)
		}
		if p.FileName() == "" && !looksLikeImage(b) {
			continue // a plain form field
		}
		if len(out) == lim.MaxImages {
			return nil, refuse(http.StatusRequestEntityTooLarge, "more than %d images in one request", lim.MaxImages)
		}
		left := lim
		left.MaxPixels -= used
		img, err := decodeImage(b, fmt.Sprintf("part %d (%s)", len(out), name), left)
		if err != nil {
			return nil, err
		}
		used += img.Bounds().Dx() * img.Bounds().Dy()
		out = append(out, namedImage{name, img})
	}
	if len(out) == 0 {
		return nil, refuse(http.StatusBadRequest, "multipart body without an image part")
	}
	return out, nil
}

func looksLikeImage(b []byte) bool {
	return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || bytes.HasPrefix(b, []byte{0xff, 0xd8})
}

// decodeImage decodes one PNG or JPEG, known by its first bytes whatever
// the Content-Type says. The header's size is checked against MaxPixels
// before decoding: a PNG of a kilobyte can declare 50,000 x 50,000 pixels,
// which Go's decoder would allocate.
func decodeImage(b []byte, name string, lim Limits) (image.Image, error) {
	var config func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		config, decode = png.DecodeConfig, png.Decode
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		config, decode = jpeg.DecodeConfig, jpeg.Decode
	default:
		return nil, refuse(http.StatusUnsupportedMediaType, "%s is not a PNG or JPEG image", name)
	}
	cfg, err := config(bytes.NewReader(b))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "%s: corrupt image header: %v", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > int64(lim.MaxPixels) {
		return nil, refuse(http.StatusRequestEntityTooLarge, "%s: image size %dx%d is empty or over the request's %d-pixel limit", name, cfg.Width, cfg.Height, lim.MaxPixels)
	}
	img, err := decode(bytes.NewReader(b))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "%s: corrupt image: %v", name, err)
	}
	return img, nil
}

// readBody reads a body bounded by max bytes, telling a body too large
// (413) and a client too slow for the server's read deadline (408) from
// other failures (400).
func readBody(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	var mbe *http.MaxBytesError
	var te interface{ Timeout() bool }
	switch {
	case errors.As(err, &mbe) || err == nil && int64(len(b)) > max:
		return nil, refuse(http.StatusRequestEntityTooLarge, "body over the %d-byte limit", max)
	case errors.As(err, &te) && te.Timeout():
		return nil, refuse(http.StatusRequestTimeout, "the body did not arrive in time")
	case err != nil && strings.Contains(err.Error(), "deadline"):
		return nil, refuse(http.StatusRequestTimeout, "the body did not arrive in time")
	case err != nil:
		return nil, refuse(http.StatusBadRequest, "reading the body: %v", err)
	}
	return b, nil
}
