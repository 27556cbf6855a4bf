package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// Image is an 8-bit picture stored planar: channel c, row y, column x is
// Pix[(c*H+y)*W+x]. It is the form images take before ToTensor, like a PIL
// image: geometric transforms work on it and round to 8 bits as PIL does.
type Image struct {
	C, H, W int
	Pix     []uint8
}

// NewImage returns a zero (black) image.
func NewImage(c, h, w int) *Image {
	return &Image{C: c, H: h, W: w, Pix: make([]uint8, c*h*w)}
}

// Plane returns channel c's H*W bytes.
func (m *Image) Plane(c int) []uint8 { return m.Pix[c*m.H*m.W : (c+1)*m.H*m.W] }

// Clone returns a deep copy.
func (m *Image) Clone() *Image {
	return &Image{C: m.C, H: m.H, W: m.W, Pix: append([]uint8(nil), m.Pix...)}
}

// MaxImagePixels bounds the width*height of an image this package decodes;
// a header announcing more is an error before any pixel is decoded. The
// default, 4096x4096 (16.7 million pixels), is far above the datasets read
// here (CIFAR, the ODIN crops and resizes: 32x32; Omniglot: 105x105) and
// bounds one decode of an 8-bit image to about 120 MB (Go's RGBA image plus
// the planar copy),
// where an 8000x8000 PNG of 1.2 MB would take 1.5 GB. Raise it to read
// larger images.
var MaxImagePixels = 4096 * 4096

// DecodeImage decodes a PNG or JPEG into an Image with channels 1 (PIL mode
// "L": luma from RGB with PIL's weights) or 3 (PIL mode "RGB": gray is
// replicated, alpha dropped). name is used in errors.
func DecodeImage(b []byte, name string, channels int) (*Image, error) {
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("data: DecodeImage: channels must be 1 or 3, got %d", channels)
	}
	var decode func([]byte) (image.Image, error)
	var config func([]byte) (image.Config, error)
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
		config = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
		config = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
	default:
		return nil, formatErr(name, "not a PNG or JPEG image")
	}
	cfg, err := config(b)
	if err != nil {
		return nil, wrapErr(name, "corrupt image header", err)
	}
	// int64: on 32-bit platforms Width*Height can overflow an int.
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > int64(MaxImagePixels) {
		return nil, formatErr(name, "image size %dx%d is empty or over the %d-pixel limit", cfg.Width, cfg.Height, MaxImagePixels)
	}
	im, err := decode(b)
	if err != nil {
		return nil, wrapErr(name, "corrupt image", err)
	}
	return FromGoImage(im, channels), nil
}

// FromGoImage converts a decoded Go image to an Image with 1 or 3 channels,
// converting the way PIL's Image.convert("L") / convert("RGB") does. JPEG's
// YCbCr is converted with Go's nearest-neighbour chroma (libjpeg, used by
// PIL, smooths chroma instead: about 1.3 levels of mean difference).
func FromGoImage(im image.Image, channels int) *Image {
	bd := im.Bounds()
	w, h := bd.Dx(), bd.Dy()
	out := NewImage(channels, h, w)
	n := w * h
	put := func(i int, r, g, b uint8) {
		if channels == 1 {
			out.Pix[i] = luma(r, g, b)
			return
		}
		out.Pix[i], out.Pix[n+i], out.Pix[2*n+i] = r, g, b
	}
	switch m := im.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				for c := 0; c < channels; c++ {
					out.Pix[c*n+y*w+x] = v
				}
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := m.YOffset(bd.Min.X+x, bd.Min.Y+y)
				ci := m.COffset(bd.Min.X+x, bd.Min.Y+y)
				r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				put(y*w+x, r, g, b)
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < w; x++ {
				put(y*w+x, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(im.At(bd.Min.X+x, bd.Min.Y+y)).(color.NRGBA)
				put(y*w+x, c.R, c.G, c.B)
			}
		}
	}
	return out
}

// luma is PIL's RGB to L conversion (ITU-R 601-2 weights in 16-bit fixed
// point, rounded).
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}
