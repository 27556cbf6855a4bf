package tensor

import "fmt"

// MatMul returns the matrix product a @ b. Both operands have at least 2
// dimensions; beyond the last two, the leading (batch) dimensions broadcast
// as in torch.matmul: [B,M,K]@[K,N] -> [B,M,N], [2,1,M,K]@[3,K,N] ->
// [2,3,M,N]. 1-d operands are not supported.
func MatMul(a, b *Tensor) *Tensor { return matmul("tensor.MatMul", a, b, false, false) }

// MatMulT returns op(a) @ op(b), where op transposes the last two axes when
// its flag is set, without materializing the transpose (the GEMM reads the
// operand in place). Batching follows MatMul. Autograd uses it for
// gradients: dA = dC @ B^T, dB = A^T @ dC.
func MatMulT(a, b *Tensor, transA, transB bool) *Tensor {
	return matmul("tensor.MatMulT", a, b, transA, transB)
}

func matmul(name string, a, b *Tensor, transA, transB bool) *Tensor {
	dev := sameDevice(name, a, b)
	if len(a.shape) < 2 || len(b.shape) < 2 {
		fail(name, "operands need at least 2 dimensions (1-d operands are not supported)", a.shape, b.shape)
	}
	ra, ca := a.shape[len(a.shape)-2], a.shape[len(a.shape)-1]
	rb, cb := b.shape[len(b.shape)-2], b.shape[len(b.shape)-1]
	m, k := ra, ca
	if transA {
		m, k = ca, ra
	}
	k2, n := rb, cb
	if transB {
		k2, n = cb, rb
	}
	if k != k2 {
		fail(name, fmt.Sprintf("inner dimensions %d and %d differ", k, k2), a.shape, b.shape)
	}
	ab, bb := a.shape[:len(a.shape)-2], b.shape[:len(b.shape)-2]
	batch, ok := broadcast(ab, bb)
	if !ok {
		fail(name, "batch dimensions cannot broadcast", a.shape, b.shape)
	}
	out := append(append([]int{}, batch...), m, n)
	if k == 0 {
		return empty(dev, out) // zero-filled: an empty sum
	}
	r := uninit(dev, out) // the products write every element (beta 0)
	if r.n == 0 {
		return r
	}
	be := backendOf(name, dev)
	nb := numelOf(batch)
	// A batch of products against one shared B with A not transposed is a
	// single tall product: stacking the A's gives one [nb*m, k] matrix.
	if numelOf(bb) == 1 && !transA && numelOf(ab) == nb {
		be.Gemm(false, transB, nb*m, n, k, 1, a.st, []int{a.off}, ca, b.st, []int{b.off}, cb, 0, r.st, []int{r.off}, n)
		return r
	}
	as, bs := broadcastStrides(ab, batch), broadcastStrides(bb, batch)
	aOffs, bOffs, cOffs := make([]int, nb), make([]int, nb), make([]int, nb)
	idx := make([]int, len(batch))
	for i := 0; i < nb; i++ {
		ao, bo := 0, 0
		for d := range idx {
			ao += idx[d] * as[d]
			bo += idx[d] * bs[d]
		}
		aOffs[i] = a.off + ao*ra*ca
		bOffs[i] = b.off + bo*rb*cb
		cOffs[i] = r.off + i*m*n
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	be.Gemm(transA, transB, m, n, k, 1, a.st, aOffs, ca, b.st, bOffs, cb, 0, r.st, cOffs, n)
	return r
}

// Linear returns x @ w^T + bias with PyTorch's layout: x is [..., in], w is
// [out, in] and bias is [out] or nil; the result is [..., out]. The bias is
// copied into the output first and the product accumulated onto it, so no
// extra pass over the output is needed.
func Linear(x, w, bias *Tensor) *Tensor {
	const name = "tensor.Linear"
	ts := []*Tensor{x, w}
	if bias != nil {
		ts = append(ts, bias)
	}
	dev := sameDevice(name, ts...)
	if len(x.shape) < 1 || len(w.shape) != 2 || x.shape[len(x.shape)-1] != w.shape[1] ||
		(bias != nil && (len(bias.shape) != 1 || bias.shape[0] != w.shape[0])) {
		fail(name, "want x [..., in], w [out, in], bias [out]", shapesOf(ts)...)
	}
	in, outF := w.shape[1], w.shape[0]
	rows := x.n / max(in, 1)
	if in == 0 {
		rows = numelOf(x.shape[:len(x.shape)-1])
	}
	shape := append(append([]int{}, x.shape[:len(x.shape)-1]...), outF)
	var r *Tensor
	if in == 0 && bias == nil {
		r = empty(dev, shape) // zero-filled: an empty sum
	} else {
		r = uninit(dev, shape) // the bias or the product (beta 0) writes it whole
	}
	if r.n == 0 {
		return r
	}
	be := backendOf(name, dev)
	beta := float32(0)
	if bias != nil {
		be.StridedCopy(r.buf(), []int{outF, 1}, bias.buf(), []int{0, 1}, []int{rows, outF})
		beta = 1
	}
	if in > 0 {
		be.Gemm(false, true, rows, outF, in, 1, x.st, []int{x.off}, in, w.st, []int{w.off}, in, beta, r.st, []int{r.off}, outF)
	}
	return r
}
