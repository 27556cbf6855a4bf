package tensor

// Dropout returns x with each element kept and multiplied by scale, or set
// to +0, by the counter-based mask of (seed, element index): see
// kernels.DropoutKeep. The same seed on any device gives the same mask, so
// the backward pass applies it to the gradient by calling Dropout again.
func Dropout(x *Tensor, seed uint64, p, scale float32) *Tensor {
	y := uninit(x.dev, x.shape)
	if y.n > 0 {
		backendOf("tensor.Dropout", x.dev).Dropout(y.buf(), x.buf(), seed, p, scale)
	}
	return y
}
