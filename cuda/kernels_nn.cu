// vmdls GPU kernels for the neural-network primitives: convolution through
// im2col / col2im around one cuBLAS SGEMM per chunk of images, pooling,
// batch normalization, softmax, arg-reductions, gathers, indexed adds and
// the optimizers' steps and dropout.
// kernelsrc.go appends this file after kernels.cu, whose
// macros (VM_LOOP, i64, VM_BLOCK, vm_block_combine) it uses.
//
// Determinism: nothing here uses atomics. Every output element is written
// by one thread that sums its own contributions in a fixed order (the
// "gather" form of col2im and of the pooling backward passes), and the
// per-channel sums run through a fixed two-level tree (per-thread strided
// partials in double, then vm_block_combine), so a run gives the same bits
// every time on the same GPU.
//
// Where the CPU backend (package kernels) rounds a product before adding,
// these kernels use __fmul_rn / __fadd_rn / __fsub_rn: NVRTC contracts
// a*b+c into an FMA by default, which would round once instead of twice
// and drift from the CPU by an ulp.

// ---- convolution ----

// vm_im2col writes the columns of nb images of x (nb×C×H×W) for a KH×KW
// window: col is [C*KH*KW, nb*OH*OW], row (c*KH+kh)*KW+kw, column
// n*OH*OW + oh*OW + ow, zero where the window reads padding. One big
// column matrix for several images lets one GEMM cover them all.
extern "C" __global__ void vm_im2col(float* col, const float* x, i64 nb, i64 C, i64 H, i64 W,
	i64 KH, i64 KW, i64 SH, i64 SW, i64 PH, i64 PW, i64 OH, i64 OW) {
	i64 ohw = OH * OW, cols = nb * ohw, n = C * KH * KW * cols;
	VM_LOOP(i, n) {
		i64 j = i % cols, r = i / cols;
		i64 kw = r % KW, kh = (r / KW) % KH, c = r / (KW * KH);
		i64 img = j / ohw, p = j % ohw;
		i64 h = (p / OW) * SH - PH + kh, w = (p % OW) * SW - PW + kw;
		float v = 0.0f;
		if (h >= 0 && h < H && w >= 0 && w < W) v = x[((img * C + c) * H + h) * W + w];
		col[i] = v;
	}
}

// vm_col2im is the adjoint of vm_im2col as a gather: each element of dx
// (nb×C×H×W) sums, in the fixed order kh, kw, the column entries that
// im2col copied from it, so no two threads write one address.
extern "C" __global__ void vm_col2im(float* dx, const float* col, i64 nb, i64 C, i64 H, i64 W,
	i64 KH, i64 KW, i64 SH, i64 SW, i64 PH, i64 PW, i64 OH, i64 OW) {
	i64 ohw = OH * OW, cols = nb * ohw, n = nb * C * H * W;
	VM_LOOP(i, n) {
		i64 w = i % W, h = (i / W) % H, c = (i / (W * H)) % C, img = i / (W * H * C);
		float acc = 0.0f;
		for (i64 kh = 0; kh < KH; kh++) {
			i64 ty = h + PH - kh;
			if (ty < 0 || ty % SH != 0) continue;
			i64 oh = ty / SH;
			if (oh >= OH) continue;
			for (i64 kw = 0; kw < KW; kw++) {
				i64 tx = w + PW - kw;
				if (tx < 0 || tx % SW != 0) continue;
				i64 ow = tx / SW;
				if (ow >= OW) continue;
				acc += col[((c * KH + kh) * KW + kw) * cols + img * ohw + oh * OW + ow];
			}
		}
		dx[i] = acc;
	}
}

// vm_conv_out moves the GEMM's [K, nb*OH*OW] result t into NCHW y (nb×K×
// OH×OW), adding bias[k] (bias may be null) and applying the fused ReLU
// (max(v, 0), NaN kept) when relu is set: the epilogue of a forward pass.
extern "C" __global__ void vm_conv_out(float* y, const float* t, const float* bias, i64 nb, i64 K, i64 ohw, i64 relu) {
	i64 n = nb * K * ohw;
	VM_LOOP(i, n) {
		i64 p = i % ohw, k = (i / ohw) % K, img = i / (ohw * K);
		float v = t[k * nb * ohw + img * ohw + p];
		if (bias) v = __fadd_rn(v, bias[k]);
		if (relu && v < 0.0f) v = 0.0f;
		y[i] = v;
	}
}

// vm_nchw_to_kn is vm_conv_out's inverse without the epilogue: it lays dy
// (nb×K×OH×OW) out as [K, nb*OH*OW] for the backward GEMMs.
extern "C" __global__ void vm_nchw_to_kn(float* t, const float* dy, i64 nb, i64 K, i64 ohw) {
	i64 n = nb * K * ohw;
	VM_LOOP(i, n) {
		i64 p = i % ohw, k = (i / ohw) % K, img = i / (ohw * K);
		t[k * nb * ohw + img * ohw + p] = dy[i];
	}
}

// vm_conv_bias_grad sets db[k] (K channels) to the sum of dy (N×K×ohw) over
// images and positions: one block per channel, double partials, fixed tree.
extern "C" __global__ void vm_conv_bias_grad(float* db, const float* dy, i64 N, i64 K, i64 ohw) {
	__shared__ double sh[VM_BLOCK];
	for (i64 k = blockIdx.x; k < K; k += gridDim.x) {
		double acc = 0.0;
		for (i64 j = threadIdx.x; j < N * ohw; j += blockDim.x) acc += (double)dy[((j / ohw) * K + k) * ohw + j % ohw];
		acc = vm_block_combine<vm_red_sum>(acc, sh);
		if (threadIdx.x == 0) db[k] = (float)acc;
	}
}

// ---- pooling (NC planes of H×W, outputs OH×OW; floor mode) ----

// vm_maxpool: the window maximum and its position h*W+w in the plane, as an
// exact float. As the CPU's loop: padding never wins, the first maximum in
// row-major window order wins ties, and every NaN replaces the best so far
// (the last NaN wins, as PyTorch's CPU kernel), so NaN propagates.
extern "C" __global__ void vm_maxpool(float* y, float* idx, const float* x, i64 NC, i64 H, i64 W,
	i64 KH, i64 KW, i64 SH, i64 SW, i64 PH, i64 PW, i64 OH, i64 OW) {
	i64 n = NC * OH * OW;
	VM_LOOP(i, n) {
		i64 ox = i % OW, oy = (i / OW) % OH, pl = i / (OW * OH);
		const float* plane = x + pl * H * W;
		i64 y0 = oy * SH - PH, x0 = ox * SW - PW;
		i64 y1 = min(y0 + KH, H), x1 = min(x0 + KW, W);
		y0 = max(y0, (i64)0);
		x0 = max(x0, (i64)0);
		float best = -VM_INF;
		i64 bi = y0 * W + x0;
		for (i64 iy = y0; iy < y1; iy++) {
			for (i64 ix = x0; ix < x1; ix++) {
				float v = plane[iy * W + ix];
				if (v > best || v != v) { best = v; bi = iy * W + ix; }
			}
		}
		y[i] = best;
		idx[i] = (float)bi;
	}
}

// vm_pool_range returns the outputs [lo, hi] along one axis whose window
// (start o*S-P, length K) covers input position h; empty when lo > hi.
__device__ __forceinline__ void vm_pool_range(i64 h, i64 K, i64 S, i64 P, i64 O, i64* lo, i64* hi) {
	i64 a = h + P - K + 1; // o*S >= a
	*lo = a <= 0 ? 0 : (a + S - 1) / S;
	i64 b = h + P; // o*S <= b
	*hi = min(b / S, O - 1);
}

// vm_maxpool_backward: each dx element sums, in row-major output order (the
// CPU's order of scattering), the dy of the outputs whose recorded maximum
// it is. A gather, so no atomics.
extern "C" __global__ void vm_maxpool_backward(float* dx, const float* dy, const float* idx, i64 NC, i64 H, i64 W,
	i64 KH, i64 KW, i64 SH, i64 SW, i64 PH, i64 PW, i64 OH, i64 OW) {
	i64 n = NC * H * W;
	VM_LOOP(i, n) {
		i64 w = i % W, h = (i / W) % H, pl = i / (W * H);
		i64 ylo, yhi, xlo, xhi;
		vm_pool_range(h, KH, SH, PH, OH, &ylo, &yhi);
		vm_pool_range(w, KW, SW, PW, OW, &xlo, &xhi);
		float me = (float)(h * W + w), acc = 0.0f;
		const float* g = dy + pl * OH * OW;
		const float* ix = idx + pl * OH * OW;
		for (i64 oy = ylo; oy <= yhi; oy++)
			for (i64 ox = xlo; ox <= xhi; ox++)
				if (ix[oy * OW + ox] == me) acc += g[oy * OW + ox];
		dx[i] = acc;
	}
}

// vm_avg_window is kernels.PoolShape.avgWindow: the clipped window of one
// output and PyTorch's divisor (padded size or real count).
__device__ __forceinline__ float vm_avg_window(i64 oy, i64 ox, i64 H, i64 W, i64 KH, i64 KW, i64 SH, i64 SW,
	i64 PH, i64 PW, i64 incl, i64* y0, i64* y1, i64* x0, i64* x1) {
	i64 a0 = oy * SH - PH, b0 = ox * SW - PW;
	i64 a1 = min(a0 + KH, H + PH), b1 = min(b0 + KW, W + PW);
	i64 padded = (a1 - a0) * (b1 - b0);
	*y0 = max(a0, (i64)0);
	*x0 = max(b0, (i64)0);
	*y1 = min(a1, H);
	*x1 = min(b1, W);
	return incl ? (float)padded : (float)((*y1 - *y0) * (*x1 - *x0));
}

// vm_avgpool sums each window in the CPU's row-major order in float and
// divides by the divisor, so it gives the CPU's bits.
extern "C" __global__ void vm_avgpool(float* y, const float* x, i64 NC, i64 H, i64 W,
	i64 KH, i64 KW, i64 SH, i64 SW, i64 PH, i64 PW, i64 OH, i64 OW, i64 incl) {
	i64 n = NC * OH * OW;
	VM_LOOP(i, n) {
		i64 ox = i % OW, oy = (i / OW) % OH, pl = i / (OW * OH);
		const float* plane = x + pl * H * W;
		i64 y0, y1, x0, x1;
		float div = vm_avg_window(oy, ox, H, W, KH, KW, SH, SW, PH, PW, incl, &y0, &y1, &x0, &x1);
		float s = 0.0f;
		for (i64 iy = y0; iy < y1; iy++)
			for (i64 ix = x0; ix < x1; ix++) s += plane[iy * W + ix];
		y[i] = s / div;
	}
}

// vm_avgpool_backward: each dx element sums dy/divisor over the outputs
// whose window covers it, in row-major output order (the CPU's).
extern "C" __global__ void vm_avgpool_backward(float* dx, const float* dy, i64 NC, i64 H, i64 W,
	i64 KH, i64 KW, i64 SH, i64 SW, i64 PH, i64 PW, i64 OH, i64 OW, i64 incl) {
	i64 n = NC * H * W;
	VM_LOOP(i, n) {
		i64 w = i % W, h = (i / W) % H, pl = i / (W * H);
		i64 ylo, yhi, xlo, xhi;
		vm_pool_range(h, KH, SH, PH, OH, &ylo, &yhi);
		vm_pool_range(w, KW, SW, PW, OW, &xlo, &xhi);
		const float* g = dy + pl * OH * OW;
		float acc = 0.0f;
		for (i64 oy = ylo; oy <= yhi; oy++)
			for (i64 ox = xlo; ox <= xhi; ox++) {
				i64 y0, y1, x0, x1;
				float div = vm_avg_window(oy, ox, H, W, KH, KW, SH, SW, PH, PW, incl, &y0, &y1, &x0, &x1);
				acc += g[oy * OW + ox] / div;
			}
		dx[i] = acc;
	}
}

// ---- batch normalization over x as [n, c, hw] ----

// vm_channel_at is element j (0 <= j < n*hw) of channel ch.
__device__ __forceinline__ i64 vm_channel_at(i64 j, i64 ch, i64 c, i64 hw) { return ((j / hw) * c + ch) * hw + j % hw; }

// vm_channel_stats: one block per channel, two passes in double as the
// CPU's kernels.ChannelStats (mean, then the squared differences corrected
// by the residual mean); biased variance, NaN for an empty channel.
extern "C" __global__ void vm_channel_stats(float* mean, float* var, const float* x, i64 n, i64 c, i64 hw) {
	__shared__ double sh[VM_BLOCK];
	i64 m = n * hw;
	for (i64 ch = blockIdx.x; ch < c; ch += gridDim.x) {
		double s = 0.0;
		for (i64 j = threadIdx.x; j < m; j += blockDim.x) s += (double)x[vm_channel_at(j, ch, c, hw)];
		s = vm_block_combine<vm_red_sum>(s, sh);
		double mu = s / (double)m, sd = 0.0, sq = 0.0;
		for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
			double d = (double)x[vm_channel_at(j, ch, c, hw)] - mu;
			sd += d;
			sq += d * d;
		}
		sd = vm_block_combine<vm_red_sum>(sd, sh);
		sq = vm_block_combine<vm_red_sum>(sq, sh);
		if (threadIdx.x == 0) {
			if (m == 0) {
				mean[ch] = __int_as_float(0x7fc00000);
				var[ch] = __int_as_float(0x7fc00000);
			} else {
				mean[ch] = (float)mu;
				var[ch] = (float)fmax(0.0, (sq - sd * sd / (double)m) / (double)m);
			}
		}
	}
}

// vm_channel_affine: y = x*scale[ch] + shift[ch], the product rounded first
// as the CPU's ScaleShift; y may be x.
extern "C" __global__ void vm_channel_affine(float* y, const float* x, i64 n, i64 c, i64 hw, const float* scale, const float* shift) {
	i64 total = n * c * hw;
	VM_LOOP(i, total) {
		i64 ch = (i / hw) % c;
		y[i] = __fadd_rn(__fmul_rn(x[i], scale[ch]), shift[ch]);
	}
}

// vm_bn_backward_reduce: one block per channel sums dy and dy*(x-mean) in
// double, writes dbeta and dgamma where wanted (null otherwise) and the
// coefficients k = [k1 | k2 | k3] (3*c floats) of dx = dy*k1 - (x-mean)*k2
// - k3, as the CPU's kernels.BatchNormBackward computes them.
extern "C" __global__ void vm_bn_backward_reduce(float* dgamma, float* dbeta, float* k, const float* dy, const float* x,
	i64 n, i64 c, i64 hw, const float* mean, const float* invstd, const float* gamma, i64 batchStats) {
	__shared__ double sh[VM_BLOCK];
	i64 m = n * hw;
	for (i64 ch = blockIdx.x; ch < c; ch += gridDim.x) {
		double mu = (double)mean[ch], sdy = 0.0, sdyx = 0.0;
		for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
			i64 at = vm_channel_at(j, ch, c, hw);
			double g = (double)dy[at];
			sdy += g;
			sdyx += g * ((double)x[at] - mu);
		}
		sdy = vm_block_combine<vm_red_sum>(sdy, sh);
		sdyx = vm_block_combine<vm_red_sum>(sdyx, sh);
		if (threadIdx.x == 0) {
			double inv = (double)invstd[ch], w = gamma ? (double)gamma[ch] : 1.0;
			if (dbeta) dbeta[ch] = (float)sdy;
			if (dgamma) dgamma[ch] = (float)(sdyx * inv);
			k[ch] = (float)(w * inv);
			k[c + ch] = 0.0f;
			k[2 * c + ch] = 0.0f;
			if (batchStats && m > 0) {
				k[c + ch] = (float)(w * inv * inv * inv * sdyx / (double)m);
				k[2 * c + ch] = (float)(w * inv * sdy / (double)m);
			}
		}
	}
}

// vm_bn_backward_dx applies the coefficients: with batch statistics
// dx = dy*k1 - (x-mean)*k2 - k3, each product rounded first (the CPU's
// BatchNormInputGrad), else dx = dy*k1.
extern "C" __global__ void vm_bn_backward_dx(float* dx, const float* dy, const float* x, i64 n, i64 c, i64 hw,
	const float* mean, const float* k, i64 batchStats) {
	i64 total = n * c * hw;
	VM_LOOP(i, total) {
		i64 ch = (i / hw) % c;
		float a = __fmul_rn(dy[i], k[ch]);
		if (batchStats) {
			float b = __fmul_rn(__fsub_rn(x[i], mean[ch]), k[c + ch]);
			a = __fsub_rn(__fsub_rn(a, b), k[2 * c + ch]);
		}
		dx[i] = a;
	}
}

// ---- softmax and arg-reductions over (outer, axis, inner) ----

// vm_better is kernels' better: v replaces the best m when it is larger
// (smaller for min), or a NaN when m is not already one (the first NaN wins).
__device__ __forceinline__ bool vm_better(float v, float m, bool isMax) {
	if (v != v) return m == m;
	return isMax ? v > m : v < m;
}

// vm_softmax: one thread per row, as the CPU's kernels.Softmax: shifted by
// the row's max, exponentials and their sum in double.
extern "C" __global__ void vm_softmax(float* d, const float* x, i64 outer, i64 axis, i64 inner, i64 logp) {
	VM_LOOP(r, outer * inner) {
		i64 base = (r / inner) * axis * inner + r % inner;
		float m = x[base];
		for (i64 j = 1; j < axis; j++) {
			float v = x[base + j * inner];
			if (vm_better(v, m, true)) m = v;
		}
		double mf = (double)m, s = 0.0;
		for (i64 j = 0; j < axis; j++) s += exp((double)x[base + j * inner] - mf);
		if (logp) {
			double ls = log(s);
			for (i64 j = 0; j < axis; j++) {
				i64 p = base + j * inner;
				d[p] = (float)((double)x[p] - mf - ls);
			}
		} else {
			double inv = 1.0 / s;
			for (i64 j = 0; j < axis; j++) {
				i64 p = base + j * inner;
				d[p] = (float)(exp((double)x[p] - mf) * inv);
			}
		}
	}
}

// vm_argreduce: the max (isMax) or min along the axis and its first
// position, a NaN winning as in vm_better; idx is int32 (downloaded into
// the caller's host []int).
extern "C" __global__ void vm_argreduce(float* d, int* idx, const float* x, i64 outer, i64 axis, i64 inner, i64 isMax) {
	VM_LOOP(r, outer * inner) {
		i64 p = (r / inner) * axis * inner + r % inner;
		float m = x[p];
		int mi = 0;
		for (i64 j = 1; j < axis; j++) {
			p += inner;
			if (vm_better(x[p], m, isMax != 0)) { m = x[p]; mi = (int)j; }
		}
		d[r] = m;
		idx[r] = mi;
	}
}

// ---- gathers and indexed adds (idx uploaded as int32) ----

// vm_gather: dst[o, j, q] = src[o, idx[j], q] for dst as [outer, L, inner].
extern "C" __global__ void vm_gather(float* dst, const float* src, const int* idx, i64 outer, i64 axisLen, i64 inner, i64 L) {
	i64 n = outer * L * inner;
	VM_LOOP(i, n) {
		i64 q = i % inner, j = (i / inner) % L, o = i / (inner * L);
		dst[i] = src[(o * axisLen + idx[j]) * inner + q];
	}
}

// vm_index_add: dst[o, a, q] += src[o, j, q] for every j with idx[j] = a,
// in increasing j, which is the CPU's order, so repeated indices give its
// bits. The host sorts the positions by destination into CSR form: the
// positions of destination a are pos[start[a] : start[a+1]]. One thread
// per destination element: no atomics.
extern "C" __global__ void vm_index_add(float* dst, const float* src, const int* start, const int* pos,
	i64 outer, i64 axisLen, i64 inner, i64 L) {
	i64 n = outer * axisLen * inner;
	VM_LOOP(i, n) {
		i64 q = i % inner, a = (i / inner) % axisLen, o = i / (inner * axisLen);
		int s0 = start[a], s1 = start[a + 1];
		if (s0 == s1) continue;
		float acc = dst[i];
		for (int t = s0; t < s1; t++) acc += src[(o * L + pos[t]) * inner + q];
		dst[i] = acc;
	}
}

// ---- optimizer steps, in place over n elements ----

// Each follows kernels' Go specification (sgdStepGeneric, adamStepGeneric)
// operation by operation: fmaf where the CPU fuses (kernels.FMA32), and
// __fmul_rn / __fadd_rn / __fdiv_rn / IEEE sqrtf where it rounds each
// step, so a parameter's bits after a step are the CPU's.

// flags: 1 weight decay, 2 momentum, 4 first step of the buffer, 8 Nesterov.
extern "C" __global__ void vm_sgd_step(float* p, const float* g, float* buf, i64 n, double wd, double mom,
	double oneMinusDamp, double negLR, i64 flags) {
	float fwd = (float)wd, fm = (float)mom, fd = (float)oneMinusDamp, flr = (float)negLR;
	VM_LOOP(j, n) {
		float d = g[j];
		if (flags & 1) d = fmaf(p[j], fwd, d);
		if (flags & 2) {
			float b = (flags & 4) ? d : fmaf(d, fd, __fmul_rn(buf[j], fm));
			buf[j] = b;
			d = (flags & 8) ? fmaf(b, fm, d) : b;
		}
		p[j] = fmaf(d, flr, p[j]);
	}
}

// vm_go_max is Go's max for floats: NaN if either is NaN, +0 over -0.
__device__ __forceinline__ float vm_go_max(float a, float b) {
	if (a != a || b != b) return __int_as_float(0x7fc00000);
	if (a == b) return signbit(a) ? b : a;
	return a > b ? a : b;
}

// o: weight decay, beta1, beta2, 1-beta1, 1-beta2, -step, sqrt(bias
// correction 2), eps; vmax is null without AMSGrad.
extern "C" __global__ void vm_adam_step(float* p, const float* g, float* m, float* v, float* vmax, i64 n,
	double wd, double b1, double b2, double omb1, double omb2, double negStep, double sqrtBC2, double eps) {
	float fwd = (float)wd, fb1 = (float)b1, fb2 = (float)b2, fo1 = (float)omb1, fo2 = (float)omb2;
	float fns = (float)negStep, fbc = (float)sqrtBC2, feps = (float)eps;
	VM_LOOP(j, n) {
		float gj = g[j];
		if (fwd != 0.0f) gj = fmaf(p[j], fwd, gj);
		float mj = fmaf(gj, fo1, __fmul_rn(m[j], fb1));
		float vj = fmaf(__fmul_rn(fo2, gj), gj, __fmul_rn(v[j], fb2));
		m[j] = mj;
		v[j] = vj;
		float vv = vj;
		if (vmax) {
			vv = vm_go_max(vmax[j], vj);
			vmax[j] = vv;
		}
		float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vv), fbc), feps);
		p[j] = __fadd_rn(p[j], __fdiv_rn(__fmul_rn(fns, mj), denom));
	}
}

// ---- dropout: the counter-based mask of kernels.Dropout ----

// vm_philox is Philox4x32-10 (kernels.Philox4x32): the four words of
// counter c under key (k0, k1), in place.
__device__ __forceinline__ void vm_philox(unsigned c[4], unsigned k0, unsigned k1) {
	for (int r = 0; r < 10; r++) {
		unsigned hi0 = __umulhi(0xD2511F53u, c[0]), lo0 = 0xD2511F53u * c[0];
		unsigned hi1 = __umulhi(0xCD9E8D57u, c[2]), lo1 = 0xCD9E8D57u * c[2];
		unsigned n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
		c[0] = n0; c[1] = lo1; c[2] = n2; c[3] = lo0;
		k0 += 0x9E3779B9u;
		k1 += 0xBB67AE85u;
	}
}

// vm_dropout: one thread per group of four elements, the group's Philox
// block at counter g under the seed; element 4g+j keeps when the top 24
// bits of word j, as a fraction of 2^24, are >= p. dst may be x.
extern "C" __global__ void vm_dropout(float* dst, const float* x, i64 n, i64 seed, double p, double scale) {
	float pf = (float)p, sc = (float)scale;
	unsigned long long s = (unsigned long long)seed;
	VM_LOOP(g, (n + 3) / 4) {
		unsigned long long blk = (unsigned long long)g;
		unsigned c[4] = {(unsigned)blk, (unsigned)(blk >> 32), 0u, 0u};
		vm_philox(c, (unsigned)s, (unsigned)(s >> 32));
		for (int j = 0; j < 4; j++) {
			i64 i = 4 * g + j;
			if (i >= n) break;
			float u = __fmul_rn((float)(c[j] >> 8), 1.0f / 16777216.0f);
			dst[i] = u >= pf ? __fmul_rn(x[i], sc) : 0.0f;
		}
	}
}
