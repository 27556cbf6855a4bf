// vmdls GPU kernels, the hand-written part. NVRTC compiles this file at run
// time, after the op functors that kernelsrc.go generates from its tables,
// to a CUBIN for the device's architecture. Each extern "C" kernel has a
// Go caller in backend_cuda.go and a CPU twin in the tensor package's CPU
// backend, which the self-test compares it with.
//
// Conventions: every parameter is 8 bytes wide (pointers, long long, double)
// because gorgonia.org/cu's Launch copies each argument as 8 bytes. Offsets
// are folded into the pointers by the caller. Strided views pass up to
// VM_MAXDIM sizes and strides as separate scalars, already coalesced.

typedef long long i64;
#define VM_MAXDIM 6
#define VM_INF __int_as_float(0x7f800000)

#define VM_DIMS(s) i64 s##0, i64 s##1, i64 s##2, i64 s##3, i64 s##4, i64 s##5
#define VM_ARR(s) const i64 s[VM_MAXDIM] = {s##0, s##1, s##2, s##3, s##4, s##5}

// A grid-stride loop: any grid covers any n.
#define VM_LOOP(i, n) \
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

// vm_offset maps the row-major flat index i of shape to an element offset
// under strides st.
__device__ __forceinline__ i64 vm_offset(i64 i, i64 nd, const i64* shape, const i64* st) {
	i64 off = 0;
	for (int d = (int)nd - 1; d >= 0; d--) {
		i64 s = shape[d];
		off += (i % s) * st[d];
		i /= s;
	}
	return off;
}

template <class Op>
__device__ __forceinline__ void vm_unary_t(float* d, const float* x, i64 n, float p, float q) {
	VM_LOOP(i, n) { d[i] = Op::f(x[i], p, q); }
}

template <class Op>
__device__ __forceinline__ void vm_binary_t(float* d, const float* a, const float* b, i64 n) {
	VM_LOOP(i, n) { d[i] = Op::f(a[i], b[i]); }
}

template <class Op>
__device__ __forceinline__ void vm_binary_strided_t(float* d, const float* a, const float* b, i64 n, i64 nd,
	const i64* sh, const i64* sa, const i64* sb) {
	VM_LOOP(i, n) { d[i] = Op::f(a[vm_offset(i, nd, sh, sa)], b[vm_offset(i, nd, sh, sb)]); }
}

extern "C" __global__ void vm_fill(float* d, i64 n, double v) {
	float f = (float)v;
	VM_LOOP(i, n) { d[i] = f; }
}

// y += alpha*x with the product rounded before the addition, as the CPU's
// kernels.Axpy does, so the two agree bit for bit (NVRTC would otherwise
// contract the expression into one fused multiply-add).
extern "C" __global__ void vm_axpy(float* y, const float* x, i64 n, double alpha) {
	float a = (float)alpha;
	VM_LOOP(i, n) { y[i] = __fadd_rn(y[i], __fmul_rn(a, x[i])); }
}

extern "C" __global__ void vm_strided_copy(float* d, const float* s, i64 n, i64 nd,
	VM_DIMS(sh), VM_DIMS(sd), VM_DIMS(ss)) {
	VM_ARR(sh); VM_ARR(sd); VM_ARR(ss);
	VM_LOOP(i, n) { d[vm_offset(i, nd, sh, sd)] = s[vm_offset(i, nd, sh, ss)]; }
}

extern "C" __global__ void vm_where(float* d, const float* m, const float* a, const float* b, i64 n, i64 nd,
	VM_DIMS(sh), VM_DIMS(sm), VM_DIMS(sa), VM_DIMS(sb)) {
	VM_ARR(sh); VM_ARR(sm); VM_ARR(sa); VM_ARR(sb);
	VM_LOOP(i, n) {
		d[i] = m[vm_offset(i, nd, sh, sm)] != 0.0f ? a[vm_offset(i, nd, sh, sa)] : b[vm_offset(i, nd, sh, sb)];
	}
}

// Reductions over (outer, axis, inner) accumulate in double, as the CPU's
// do, so that long sums stay within a few float ulps whatever the order.
// Max and min keep the first NaN they meet: once acc is NaN, it stays.
struct vm_red_sum {
	static __device__ __forceinline__ double init() { return 0.0; }
	static __device__ __forceinline__ double add(double acc, double v) { return acc + v; }
};
struct vm_red_max {
	static __device__ __forceinline__ double init() { return -(double)VM_INF; }
	static __device__ __forceinline__ double add(double acc, double v) { return (acc != acc || v < acc) ? acc : v; }
};
struct vm_red_min {
	static __device__ __forceinline__ double init() { return (double)VM_INF; }
	static __device__ __forceinline__ double add(double acc, double v) { return (acc != acc || v > acc) ? acc : v; }
};

// The shift of log-sum-exp: the max, or 0 when the max is infinite (all -Inf
// gives log 0 = -Inf; any +Inf gives +Inf).
__device__ __forceinline__ double vm_lse_shift(double m) {
	return (m == (double)VM_INF || m == -(double)VM_INF) ? 0.0 : m;
}

// One thread per output: for short axes, where outputs are many.
template <class R>
__device__ __forceinline__ void vm_reduce_rows_t(float* d, const float* x, i64 outer, i64 axis, i64 inner) {
	VM_LOOP(o, outer * inner) {
		const float* p = x + (o / inner) * axis * inner + (o % inner);
		double acc = R::init();
		for (i64 j = 0; j < axis; j++) acc = R::add(acc, (double)p[j * inner]);
		d[o] = (float)acc;
	}
}

__device__ __forceinline__ void vm_lse_rows(float* d, const float* x, i64 outer, i64 axis, i64 inner) {
	VM_LOOP(o, outer * inner) {
		const float* p = x + (o / inner) * axis * inner + (o % inner);
		double m = vm_red_max::init();
		for (i64 j = 0; j < axis; j++) m = vm_red_max::add(m, (double)p[j * inner]);
		double sh = vm_lse_shift(m), s = 0.0;
		for (i64 j = 0; j < axis; j++) s += exp((double)p[j * inner] - sh);
		d[o] = (float)(sh + log(s));
	}
}

#define VM_BLOCK 256

// Combines the block's partials in shared memory; every thread gets the
// result. blockDim.x must be VM_BLOCK (or 1, which the tree skips).
template <class R>
__device__ __forceinline__ double vm_block_combine(double v, double* sh) {
	sh[threadIdx.x] = v;
	__syncthreads();
	for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
		if (threadIdx.x < s) sh[threadIdx.x] = R::add(sh[threadIdx.x], sh[threadIdx.x + s]);
		__syncthreads();
	}
	double r = sh[0];
	__syncthreads();
	return r;
}

// One block per output: for long axes, where outputs are few.
template <class R>
__device__ __forceinline__ void vm_reduce_block_t(float* d, const float* x, i64 outer, i64 axis, i64 inner) {
	__shared__ double sh[VM_BLOCK];
	for (i64 o = blockIdx.x; o < outer * inner; o += gridDim.x) {
		const float* p = x + (o / inner) * axis * inner + (o % inner);
		double acc = R::init();
		for (i64 j = threadIdx.x; j < axis; j += blockDim.x) acc = R::add(acc, (double)p[j * inner]);
		acc = vm_block_combine<R>(acc, sh);
		if (threadIdx.x == 0) d[o] = (float)acc;
	}
}

__device__ __forceinline__ void vm_lse_block(float* d, const float* x, i64 outer, i64 axis, i64 inner) {
	__shared__ double sh[VM_BLOCK];
	for (i64 o = blockIdx.x; o < outer * inner; o += gridDim.x) {
		const float* p = x + (o / inner) * axis * inner + (o % inner);
		double m = vm_red_max::init();
		for (i64 j = threadIdx.x; j < axis; j += blockDim.x) m = vm_red_max::add(m, (double)p[j * inner]);
		m = vm_block_combine<vm_red_max>(m, sh);
		double shift = vm_lse_shift(m), s = 0.0;
		for (i64 j = threadIdx.x; j < axis; j += blockDim.x) s += exp((double)p[j * inner] - shift);
		s = vm_block_combine<vm_red_sum>(s, sh);
		if (threadIdx.x == 0) d[o] = (float)(shift + log(s));
	}
}

extern "C" __global__ void vm_reduce_sum_rows(float* d, const float* x, i64 outer, i64 axis, i64 inner) { vm_reduce_rows_t<vm_red_sum>(d, x, outer, axis, inner); }
extern "C" __global__ void vm_reduce_max_rows(float* d, const float* x, i64 outer, i64 axis, i64 inner) { vm_reduce_rows_t<vm_red_max>(d, x, outer, axis, inner); }
extern "C" __global__ void vm_reduce_min_rows(float* d, const float* x, i64 outer, i64 axis, i64 inner) { vm_reduce_rows_t<vm_red_min>(d, x, outer, axis, inner); }
extern "C" __global__ void vm_reduce_lse_rows(float* d, const float* x, i64 outer, i64 axis, i64 inner) { vm_lse_rows(d, x, outer, axis, inner); }
extern "C" __global__ void vm_reduce_sum_block(float* d, const float* x, i64 outer, i64 axis, i64 inner) { vm_reduce_block_t<vm_red_sum>(d, x, outer, axis, inner); }
extern "C" __global__ void vm_reduce_max_block(float* d, const float* x, i64 outer, i64 axis, i64 inner) { vm_reduce_block_t<vm_red_max>(d, x, outer, axis, inner); }
extern "C" __global__ void vm_reduce_min_block(float* d, const float* x, i64 outer, i64 axis, i64 inner) { vm_reduce_block_t<vm_red_min>(d, x, outer, axis, inner); }
extern "C" __global__ void vm_reduce_lse_block(float* d, const float* x, i64 outer, i64 axis, i64 inner) { vm_lse_block(d, x, outer, axis, inner); }
