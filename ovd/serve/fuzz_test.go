package serve

import (
	"bytes"
	"errors"
	"image/jpeg"
	"mime/multipart"
	"testing"
)

// FuzzDecodeRequest: whatever the body and Content-Type, decoding returns
// images within the limits or a requestError with a 4xx status, never a
// panic or an image over the pixel limit.
func FuzzDecodeRequest(f *testing.F) {
	png := encodePNG(f, grayImage(2))
	var jb bytes.Buffer
	jpeg.Encode(&jb, grayImage(3), nil)
	var mb bytes.Buffer
	mw := multipart.NewWriter(&mb)
	w, _ := mw.CreateFormFile("image", "a.png")
	w.Write(png)
	mw.WriteField("note", "x")
	mw.Close()
	f.Add("image/png", png)
	f.Add("image/jpeg", jb.Bytes())
	f.Add("", png[:30])
	f.Add(mw.FormDataContentType(), mb.Bytes())
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"a\"; filename=\"b\"\r\n\r\n\x89PNG\r\n\x1a\n\r\n--x--\r\n"))
	f.Add("image/png", bombPNG(50000, 50000))
	f.Add("text/plain", []byte("hello"))
	lim := Limits{MaxImages: 4, MaxPixels: 64 * 64}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		imgs, err := decodeRequest(ct, body, lim)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) || re.status < 400 || re.status >= 500 || re.msg == "" {
				t.Fatalf("error %v (%T), want a requestError with a 4xx status", err, err)
			}
			return
		}
		if len(imgs) == 0 || len(imgs) > lim.MaxImages {
			t.Fatalf("%d images, want 1..%d", len(imgs), lim.MaxImages)
		}
		px := 0
		for _, im := range imgs {
			b := im.img.Bounds()
			if b.Empty() {
				t.Fatalf("an empty image %v", b)
			}
			px += b.Dx() * b.Dy()
		}
		if px > lim.MaxPixels {
			t.Fatalf("%d pixels decoded, over the limit of %d", px, lim.MaxPixels)
		}
	})
}
