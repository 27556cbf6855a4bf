package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ImageTransform changes an 8-bit image, as torchvision's transforms change
// a PIL image. Implementations never modify their input (it may be shared
// with the dataset) and draw any random choice from rng only, so a sample's
// result depends only on the rng's seed.
type ImageTransform interface {
	Apply(img *Image, rng *rand.Rand) *Image
	// OutShape returns the shape Apply produces from an input of shape c,h,w.
	OutShape(c, h, w int) (int, int, int)
}

// InputChecker is implemented by image transforms that cannot take every
// input shape (a crop larger than the padded image). Compose.Run calls
// CheckInput before Apply and reports its error instead of applying.
type InputChecker interface {
	CheckInput(c, h, w int) error
}

// TensorTransform changes a float CHW sample in place, as torchvision's
// tensor transforms (Normalize) do after ToTensor.
type TensorTransform interface {
	ApplyFloat(x []float32, c, h, w int, rng *rand.Rand)
}

// Compose is a transform pipeline: the image transforms, then ToTensor
// (bytes scaled to [0,1] float32), then the tensor transforms.
type Compose struct {
	Image  []ImageTransform
	Tensor []TensorTransform
}

// Then returns a copy of p with more tensor transforms appended (for
// example a dataset's post-transform noise).
func (p *Compose) Then(t ...TensorTransform) *Compose {
	q := &Compose{Image: append([]ImageTransform(nil), p.Image...), Tensor: append([]TensorTransform(nil), p.Tensor...)}
	q.Tensor = append(q.Tensor, t...)
	return q
}

// OutShape returns the sample shape the pipeline makes from images of
// shape c,h,w.
func (p *Compose) OutShape(c, h, w int) (int, int, int) {
	for _, t := range p.Image {
		c, h, w = t.OutShape(c, h, w)
	}
	return c, h, w
}

// Run transforms img and writes the float result into dst, which must hold
// exactly the output's C*H*W values. It returns the output shape. An image
// a transform cannot take (see InputChecker), or one whose pixels do not
// fill its shape, is an error.
func (p *Compose) Run(img *Image, rng *rand.Rand, dst []float32) (c, h, w int, err error) {
	for _, t := range p.Image {
		if img.C <= 0 || img.H <= 0 || img.W <= 0 || len(img.Pix) != img.C*img.H*img.W {
			return img.C, img.H, img.W, fmt.Errorf("image of shape %dx%dx%d holds %d bytes", img.C, img.H, img.W, len(img.Pix))
		}
		if ic, ok := t.(InputChecker); ok {
			if err := ic.CheckInput(img.C, img.H, img.W); err != nil {
				return img.C, img.H, img.W, err
			}
		}
		img = t.Apply(img, rng)
	}
	if len(dst) != len(img.Pix) {
		return img.C, img.H, img.W, fmt.Errorf("transformed image is %dx%dx%d (%d values), batch slot holds %d", img.C, img.H, img.W, len(img.Pix), len(dst))
	}
	ToTensor(img, dst)
	for _, t := range p.Tensor {
		t.ApplyFloat(dst, img.C, img.H, img.W, rng)
	}
	return img.C, img.H, img.W, nil
}

// byteScale maps each byte to float32(b)/255, the value torchvision's
// ToTensor computes (img.float().div(255)).
var byteScale = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return
}()

// ToTensor writes img's bytes scaled to [0,1] into dst (CHW).
func ToTensor(img *Image, dst []float32) {
	for i, v := range img.Pix {
		dst[i] = byteScale[v]
	}
}

// Normalize subtracts a per-channel mean and divides by a per-channel std in
// float32, in that order, as torchvision's Normalize does.
type Normalize struct {
	Mean, Std []float32
}

// ApplyFloat normalizes x in place.
func (n Normalize) ApplyFloat(x []float32, c, h, w int, _ *rand.Rand) {
	plane := h * w
	for ch := 0; ch < c; ch++ {
		m, s := n.Mean[ch%len(n.Mean)], n.Std[ch%len(n.Std)]
		p := x[ch*plane : (ch+1)*plane]
		for i, v := range p {
			p[i] = (v - m) / s
		}
	}
}

// UniformNoise adds independent uniform [Lo, Hi) noise to every value: the
// reference's mnist_noise adds np.random.rand after the transform.
type UniformNoise struct{ Lo, Hi float32 }

// ApplyFloat adds the noise in place.
func (u UniformNoise) ApplyFloat(x []float32, _, _, _ int, rng *rand.Rand) {
	for i := range x {
		x[i] += u.Lo + (u.Hi-u.Lo)*float32(rng.Uint32()>>8)/(1<<24)
	}
}

// ResizeTo is torchvision's Resize((H, W)) on PIL images (PIL bilinear).
type ResizeTo struct{ H, W int }

// Apply resizes.
func (r ResizeTo) Apply(img *Image, _ *rand.Rand) *Image { return Resize(img, r.H, r.W) }

// OutShape returns c, H, W.
func (r ResizeTo) OutShape(c, _, _ int) (int, int, int) { return c, r.H, r.W }

// ResizeShort is torchvision's Resize(size) with an int: the shorter side
// becomes Size, the longer int(Size * long / short).
type ResizeShort struct{ Size int }

func (r ResizeShort) dims(h, w int) (int, int) {
	if w <= h {
		return int(float64(r.Size) * float64(h) / float64(w)), r.Size
	}
	return r.Size, int(float64(r.Size) * float64(w) / float64(h))
}

// Apply resizes.
func (r ResizeShort) Apply(img *Image, _ *rand.Rand) *Image {
	h, w := r.dims(img.H, img.W)
	if h == img.H && w == img.W {
		return img
	}
	return Resize(img, h, w)
}

// OutShape returns the resized shape.
func (r ResizeShort) OutShape(c, h, w int) (int, int, int) {
	h, w = r.dims(h, w)
	return c, h, w
}

// CenterCrop is torchvision's CenterCrop((H, W)): offsets rounded half to
// even as Python's round, zero padding when the crop is larger.
type CenterCrop struct{ H, W int }

// Apply crops.
func (cc CenterCrop) Apply(img *Image, _ *rand.Rand) *Image {
	return Crop(img, centerOffset(img.H, cc.H), centerOffset(img.W, cc.W), cc.H, cc.W, 0)
}

// centerOffset is torchvision's center_crop offset along one axis: when the
// crop is larger it pads (crop-size)//2 before, otherwise it rounds
// (size-crop)/2 half to even.
func centerOffset(size, crop int) int {
	if crop > size {
		return -((crop - size) / 2)
	}
	return int(math.RoundToEven(float64(size-crop) / 2))
}

// OutShape returns c, H, W.
func (cc CenterCrop) OutShape(c, _, _ int) (int, int, int) { return c, cc.H, cc.W }

// InvertImage is PIL's ImageOps.invert as a transform (the reference's
// Invert, applied to Omniglot).
type InvertImage struct{}

// Apply inverts.
func (InvertImage) Apply(img *Image, _ *rand.Rand) *Image { return Invert(img) }

// OutShape returns its input.
func (InvertImage) OutShape(c, h, w int) (int, int, int) { return c, h, w }

// RandomCrop is torchvision's RandomCrop(size, padding) with constant fill:
// pad every side by Padding, then crop H x W at a uniform random offset.
type RandomCrop struct {
	H, W, Padding int
	Fill          uint8
}

// Apply crops at a random offset. Along an axis where the padded image is
// smaller than the crop, which torchvision refuses and CheckInput reports,
// it crops from offset 0 and fills the rest rather than panicking. (An
// axis where they are equal still draws its offset, so valid inputs use
// the random sequence they always did.)
func (rc RandomCrop) Apply(img *Image, rng *rand.Rand) *Image {
	ph, pw := img.H+2*rc.Padding, img.W+2*rc.Padding
	i, j := 0, 0
	if ph != rc.H || pw != rc.W {
		if ph >= rc.H {
			i = rng.IntN(ph - rc.H + 1)
		}
		if pw >= rc.W {
			j = rng.IntN(pw - rc.W + 1)
		}
	}
	return Crop(img, i-rc.Padding, j-rc.Padding, rc.H, rc.W, rc.Fill)
}

// CheckInput refuses an image that is smaller than the crop even after
// padding, as torchvision's RandomCrop does.
func (rc RandomCrop) CheckInput(_, h, w int) error {
	if h+2*rc.Padding < rc.H || w+2*rc.Padding < rc.W {
		return fmt.Errorf("image of %dx%d (padded by %d) is smaller than RandomCrop's %dx%d", w, h, rc.Padding, rc.W, rc.H)
	}
	return nil
}

// OutShape returns c, H, W.
func (rc RandomCrop) OutShape(c, _, _ int) (int, int, int) { return c, rc.H, rc.W }

// RandomHorizontalFlip flips with probability P.
type RandomHorizontalFlip struct{ P float64 }

// Apply flips or not.
func (f RandomHorizontalFlip) Apply(img *Image, rng *rand.Rand) *Image {
	if rng.Float64() < f.P {
		return HFlip(img)
	}
	return img
}

// OutShape returns its input.
func (RandomHorizontalFlip) OutShape(c, h, w int) (int, int, int) { return c, h, w }

// RandomRotation is torchvision's RandomRotation((Min, Max), fill) on PIL
// images: an angle uniform in [Min, Max] degrees, rotated with Rotate.
// torchvision's default interpolation, which the reference uses, is Nearest.
type RandomRotation struct {
	Min, Max float64
	Interp   Interp
	Fill     uint8
}

// Apply rotates by a random angle.
func (r RandomRotation) Apply(img *Image, rng *rand.Rand) *Image {
	angle := r.Min + (r.Max-r.Min)*rng.Float64()
	return Rotate(img, angle, r.Interp, r.Fill)
}

// OutShape returns its input.
func (RandomRotation) OutShape(c, h, w int) (int, int, int) { return c, h, w }

// RandomResizedCrop is torchvision's RandomResizedCrop(size, scale, ratio)
// on PIL images: a crop of random area fraction in Scale and aspect ratio
// log-uniform in Ratio (ten tries, then a central crop), resized to H x W
// with PIL bilinear.
type RandomResizedCrop struct {
	H, W  int
	Scale [2]float64
	Ratio [2]float64
}

// Params draws the crop (top, left, height, width) for an image of h x w,
// with torchvision's get_params algorithm.
func (r RandomResizedCrop) Params(h, w int, rng *rand.Rand) (int, int, int, int) {
	area := float64(h * w)
	lr0, lr1 := math.Log(r.Ratio[0]), math.Log(r.Ratio[1])
	for try := 0; try < 10; try++ {
		target := area * (r.Scale[0] + (r.Scale[1]-r.Scale[0])*rng.Float64())
		ar := math.Exp(lr0 + (lr1-lr0)*rng.Float64())
		cw := int(math.RoundToEven(math.Sqrt(target * ar)))
		ch := int(math.RoundToEven(math.Sqrt(target / ar)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			i := rng.IntN(h - ch + 1)
			j := rng.IntN(w - cw + 1)
			return i, j, ch, cw
		}
	}
	inRatio := float64(w) / float64(h)
	cw, ch := w, h
	if inRatio < r.Ratio[0] {
		ch = int(math.RoundToEven(float64(cw) / r.Ratio[0]))
	} else if inRatio > r.Ratio[1] {
		cw = int(math.RoundToEven(float64(ch) * r.Ratio[1]))
	}
	return (h - ch) / 2, (w - cw) / 2, ch, cw
}

// Apply crops and resizes.
func (r RandomResizedCrop) Apply(img *Image, rng *rand.Rand) *Image {
	i, j, ch, cw := r.Params(img.H, img.W, rng)
	return Resize(Crop(img, i, j, ch, cw, 0), r.H, r.W)
}

// OutShape returns c, H, W.
func (r RandomResizedCrop) OutShape(c, _, _ int) (int, int, int) { return c, r.H, r.W }

// The normalizations of METHOD.md section 7.
var (
	mnistNorm = Normalize{Mean: []float32{0.5}, Std: []float32{0.5}}
	cifarNorm = Normalize{Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2023, 0.1994, 0.2010}}
	// boltsCIFARNorm is pl_bolts' cifar10_normalization, on which the
	// reference's CIFAR autoencoders train (models/train_resnet_ae.py,
	// models/cifar100_datamodule.py): mean (125.3, 123.0, 113.9)/255, std
	// (63.0, 62.1, 66.7)/255.
	boltsCIFARNorm = Normalize{
		Mean: []float32{125.3 / 255, 123.0 / 255, 113.9 / 255},
		Std:  []float32{63.0 / 255, 62.1 / 255, 66.7 / 255},
	}
)

// PipelineNames lists the values of the reference's --data_transforms flag
// that Pipeline knows, and bolts_cifar, the normalization of pl_bolts'
// CIFAR data modules, for --ae_transforms.
var PipelineNames = []string{"mnist", "blob", "cifar", "cifar_test", "toy", "bolts_cifar"}

// Pipeline returns the named transform pipeline of the reference's
// --data_transforms flag; train selects its "train" variant, otherwise its
// "val"/"test" variant (which are the same in every pipeline).
//
//	mnist       train: RandomRotation(10, fill 0), RandomResizedCrop(28, scale 0.95-1); then (x-0.5)/0.5
//	blob        (x-0.5)/0.5
//	cifar       train: RandomCrop(32, padding 4), RandomHorizontalFlip; then CIFAR mean/std
//	cifar_test  CIFAR mean/std
//	toy         ToTensor only
//	bolts_cifar pl_bolts' cifar10_normalization (the reference's CIFAR autoencoders)
func Pipeline(name string, train bool) (*Compose, error) {
	switch name {
	case "mnist":
		p := &Compose{Tensor: []TensorTransform{mnistNorm}}
		if train {
			p.Image = []ImageTransform{
				RandomRotation{Min: -10, Max: 10, Interp: Nearest},
				RandomResizedCrop{H: 28, W: 28, Scale: [2]float64{0.95, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3}},
			}
		}
		return p, nil
	case "blob":
		return &Compose{Tensor: []TensorTransform{mnistNorm}}, nil
	case "cifar":
		p := &Compose{Tensor: []TensorTransform{cifarNorm}}
		if train {
			p.Image = []ImageTransform{RandomCrop{H: 32, W: 32, Padding: 4}, RandomHorizontalFlip{P: 0.5}}
		}
		return p, nil
	case "cifar_test":
		return &Compose{Tensor: []TensorTransform{cifarNorm}}, nil
	case "toy":
		return &Compose{}, nil
	case "bolts_cifar":
		return &Compose{Tensor: []TensorTransform{boltsCIFARNorm}}, nil
	}
	return nil, fmt.Errorf("data: unknown --data_transforms %q (known: %v)", name, PipelineNames)
}
