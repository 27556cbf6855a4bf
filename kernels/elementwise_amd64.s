//go:build amd64 && !purego

#include "textflag.h"

// AVX2(+FMA) elementwise and reduction kernels; the pure-Go twins in
// elementwise_generic.go and mathfun.go are their specification. Every loop
// runs 32 floats (4 ymm) or 8 floats per step and finishes the last r < 8
// elements with masked loads and stores (VMASKMOVPS), which neither read nor
// write outside the slices. Go assembler operand order is reversed from
// Intel's: "OP src2, src1, dst".

// Rows of mathConsts (see the mc* constants in mathfun.go): row k is at 32*k.
#define EXPLO 0
#define EXPHI 32
#define LOG2E 64
#define LN2HI 96
#define LN2LO 128
#define EXPQ5 160
#define EXPQ4 192
#define EXPQ3 224
#define EXPQ2 256
#define EXPQ1 288
#define EXPQ0 320
#define ONE 352
#define BIAS 384
#define MINNORMAL 416
#define TWO23 448
#define TWENTYTHREE 480
#define LOGMANTOFF 512
#define MANTMASK 544
#define LOGSQRTHALF 576
#define LOGG8 608
#define LOGG7 640
#define LOGG6 672
#define LOGG5 704
#define LOGG4 736
#define LOGG3 768
#define LOGG2 800
#define LOGG1 832
#define LOGG0 864
#define NEGHALF 896
#define ZERO 928
#define POSINF 960
#define NEGINF 992

#define MC(off) ·mathConsts+off(SB)

// TAILMASK sets Y15 to a mask of the first CX (1..7) lanes; clobbers AX, CX.
#define TAILMASK \
	LEAQ ·tailMask+32(SB), AX \
	SHLQ $2, CX               \
	SUBQ CX, AX               \
	VMOVDQU (AX), Y15

// BINARY runs dst[i] = a[i] OP b[i] with DI=dst, SI=a, DX=b, CX=n.
#define BINARY(OP) \
	CMPQ    CX, $32          \
	JB      loop8            \
loop32:                      \
	VMOVUPS (SI), Y0         \
	VMOVUPS 32(SI), Y1       \
	VMOVUPS 64(SI), Y2       \
	VMOVUPS 96(SI), Y3       \
	OP      (DX), Y0, Y0     \
	OP      32(DX), Y1, Y1   \
	OP      64(DX), Y2, Y2   \
	OP      96(DX), Y3, Y3   \
	VMOVUPS Y0, (DI)         \
	VMOVUPS Y1, 32(DI)       \
	VMOVUPS Y2, 64(DI)       \
	VMOVUPS Y3, 96(DI)       \
	ADDQ    $128, SI         \
	ADDQ    $128, DX         \
	ADDQ    $128, DI         \
	SUBQ    $32, CX          \
	CMPQ    CX, $32          \
	JAE     loop32           \
loop8:                       \
	CMPQ    CX, $8           \
	JB      tail             \
	VMOVUPS (SI), Y0         \
	OP      (DX), Y0, Y0     \
	VMOVUPS Y0, (DI)         \
	ADDQ    $32, SI          \
	ADDQ    $32, DX          \
	ADDQ    $32, DI          \
	SUBQ    $8, CX           \
	JMP     loop8            \
tail:                        \
	TESTQ   CX, CX           \
	JZ      done             \
	TAILMASK                 \
	VMASKMOVPS (SI), Y15, Y0 \
	VMASKMOVPS (DX), Y15, Y1 \
	OP      Y1, Y0, Y0       \
	VMASKMOVPS Y0, Y15, (DI) \
done:                        \
	VZEROUPPER

#define BINARY_ARGS \
	MOVQ dst_base+0(FP), DI \
	MOVQ dst_len+8(FP), CX  \
	MOVQ a_base+24(FP), SI  \
	MOVQ b_base+48(FP), DX

// func addAVX2(dst, a, b []float32)
TEXT ·addAVX2(SB), NOSPLIT, $0-72
	BINARY_ARGS
	BINARY(VADDPS)
	RET

// func subAVX2(dst, a, b []float32)
TEXT ·subAVX2(SB), NOSPLIT, $0-72
	BINARY_ARGS
	BINARY(VSUBPS)
	RET

// func mulAVX2(dst, a, b []float32)
TEXT ·mulAVX2(SB), NOSPLIT, $0-72
	BINARY_ARGS
	BINARY(VMULPS)
	RET

// func divAVX2(dst, a, b []float32)
TEXT ·divAVX2(SB), NOSPLIT, $0-72
	BINARY_ARGS
	BINARY(VDIVPS)
	RET

// UNARY runs dst[i] = Y14 OP x[i] (Intel order: OP dst, Y14, x) with DI=dst,
// SI=x, CX=n. Masked-off lanes of the tail load as 0 and are not stored.
#define UNARY(OP) \
	CMPQ    CX, $32          \
	JB      loop8            \
loop32:                      \
	OP      (SI), Y14, Y0    \
	OP      32(SI), Y14, Y1  \
	OP      64(SI), Y14, Y2  \
	OP      96(SI), Y14, Y3  \
	VMOVUPS Y0, (DI)         \
	VMOVUPS Y1, 32(DI)       \
	VMOVUPS Y2, 64(DI)       \
	VMOVUPS Y3, 96(DI)       \
	ADDQ    $128, SI         \
	ADDQ    $128, DI         \
	SUBQ    $32, CX          \
	CMPQ    CX, $32          \
	JAE     loop32           \
loop8:                       \
	CMPQ    CX, $8           \
	JB      tail             \
	OP      (SI), Y14, Y0    \
	VMOVUPS Y0, (DI)         \
	ADDQ    $32, SI          \
	ADDQ    $32, DI          \
	SUBQ    $8, CX           \
	JMP     loop8            \
tail:                        \
	TESTQ   CX, CX           \
	JZ      done             \
	TAILMASK                 \
	VMASKMOVPS (SI), Y15, Y0 \
	OP      Y0, Y14, Y0      \
	VMASKMOVPS Y0, Y15, (DI) \
done:                        \
	VZEROUPPER

// func scaleAVX2(dst []float32, alpha float32, x []float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-56
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	VBROADCASTSS alpha+24(FP), Y14
	MOVQ         x_base+32(FP), SI
	UNARY(VMULPS)
	RET

// func addScalarAVX2(dst []float32, s float32, x []float32)
TEXT ·addScalarAVX2(SB), NOSPLIT, $0-56
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	VBROADCASTSS s+24(FP), Y14
	MOVQ         x_base+32(FP), SI
	UNARY(VADDPS)
	RET

// func reluAVX2(dst, x []float32)
// VMAXPS returns its second source (x) when either is NaN or both are zero,
// so max(0, x) keeps NaN and -0 as the twin does.
TEXT ·reluAVX2(SB), NOSPLIT, $0-48
	MOVQ   dst_base+0(FP), DI
	MOVQ   dst_len+8(FP), CX
	MOVQ   x_base+24(FP), SI
	VXORPS Y14, Y14, Y14
	UNARY(VMAXPS)
	RET

// func axpyAVX2(alpha float32, x, y []float32)
// y += alpha*x with a separate multiply and add, as the twin rounds.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	VBROADCASTSS alpha+0(FP), Y14
	MOVQ         x_base+8(FP), SI
	MOVQ         y_base+32(FP), DI
	MOVQ         y_len+40(FP), CX
	CMPQ         CX, $32
	JB           loop8

loop32:
	VMULPS  (SI), Y14, Y0
	VMULPS  32(SI), Y14, Y1
	VMULPS  64(SI), Y14, Y2
	VMULPS  96(SI), Y14, Y3
	VADDPS  (DI), Y0, Y0
	VADDPS  32(DI), Y1, Y1
	VADDPS  64(DI), Y2, Y2
	VADDPS  96(DI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     loop32

loop8:
	CMPQ    CX, $8
	JB      tail
	VMULPS  (SI), Y14, Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     loop8

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VMASKMOVPS (DI), Y15, Y1
	VMULPS     Y0, Y14, Y0
	VADDPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)

done:
	VZEROUPPER
	RET

// func reluBackwardAVX2(dst, grad, x []float32)
// dst = grad AND (x > 0): the ordered compare is false for NaN x.
TEXT ·reluBackwardAVX2(SB), NOSPLIT, $0-72
	MOVQ   dst_base+0(FP), DI
	MOVQ   dst_len+8(FP), CX
	MOVQ   grad_base+24(FP), DX
	MOVQ   x_base+48(FP), SI
	VXORPS Y14, Y14, Y14
	CMPQ   CX, $32
	JB     loop8

loop32:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VCMPPS  $0x1e, Y14, Y0, Y0
	VCMPPS  $0x1e, Y14, Y1, Y1
	VCMPPS  $0x1e, Y14, Y2, Y2
	VCMPPS  $0x1e, Y14, Y3, Y3
	VANDPS  (DX), Y0, Y0
	VANDPS  32(DX), Y1, Y1
	VANDPS  64(DX), Y2, Y2
	VANDPS  96(DX), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     loop32

loop8:
	CMPQ    CX, $8
	JB      tail
	VMOVUPS (SI), Y0
	VCMPPS  $0x1e, Y14, Y0, Y0
	VANDPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     loop8

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VMASKMOVPS (DX), Y15, Y1
	VCMPPS     $0x1e, Y14, Y0, Y0
	VANDPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)

done:
	VZEROUPPER
	RET

// EXPBODY sets X = exp(X), as exp32 in mathfun.go; clobbers T1-T5 and
// expects Y12 = expClampLo, Y13 = expClampHi.
#define EXPBODY(X, T1, T2, T3, T4, T5) \
	VMAXPS      X, Y12, X        \ // max(lo, x): NaN x stays NaN
	VMINPS      X, Y13, X        \ // min(hi, x): likewise
	VMULPS      MC(LOG2E), X, T1  \
	VROUNDPS    $0, T1, T1         \ // n, to nearest even
	VFNMADD231PS MC(LN2HI), T1, X \ // r = x - n*ln2Hi (exact)
	VFNMADD231PS MC(LN2LO), T1, X \ // r -= n*ln2Lo
	VCVTPS2DQ   T1, T2             \
	VMOVUPS     MC(EXPQ5), T3      \
	VFMADD213PS MC(EXPQ4), X, T3  \
	VFMADD213PS MC(EXPQ3), X, T3  \
	VFMADD213PS MC(EXPQ2), X, T3  \
	VFMADD213PS MC(EXPQ1), X, T3  \
	VFMADD213PS MC(EXPQ0), X, T3  \
	VMULPS      X, X, T4         \
	VFMADD213PS X, T4, T3         \ // r²q + r
	VADDPS      MC(ONE), T3, T3    \
	VPSRAD      $1, T2, T5         \ // n1 = n>>1
	VPSUBD      T5, T2, T2         \ // n2 = n - n1
	VPADDD      MC(BIAS), T5, T5   \
	VPADDD      MC(BIAS), T2, T2   \
	VPSLLD      $23, T5, T5        \ // 2^n1
	VPSLLD      $23, T2, T2        \ // 2^n2
	VMULPS      T5, T3, T3         \
	VMULPS      T2, T3, X

// LOGBODY sets X = log(X), as log32 in mathfun.go; clobbers T1-T5.
#define LOGBODY(X, T1, T2, T3, T4, T5) \
	VCMPPS      $0x11, MC(MINNORMAL), X, T1 \ // x < MinNormal (LT_OQ)
	VMULPS      MC(TWO23), X, T2            \
	VBLENDVPS   T1, T2, X, T2               \ // subnormal x scaled by 2^23
	VANDPS      MC(TWENTYTHREE), T1, T1      \ // ... and 23 taken off e
	VPADDD      MC(LOGMANTOFF), T2, T2       \
	VPSRLD      $23, T2, T3                  \
	VPSUBD      MC(BIAS), T3, T3             \
	VCVTDQ2PS   T3, T3                       \
	VSUBPS      T1, T3, T3                   \ // e
	VPAND       MC(MANTMASK), T2, T2         \
	VPADDD      MC(LOGSQRTHALF), T2, T2      \ // m in [sqrt(1/2), sqrt(2))
	VSUBPS      MC(ONE), T2, T2              \ // f = m - 1 (exact)
	VMOVUPS     MC(LOGG8), T4                \
	VFMADD213PS MC(LOGG7), T2, T4            \
	VFMADD213PS MC(LOGG6), T2, T4            \
	VFMADD213PS MC(LOGG5), T2, T4            \
	VFMADD213PS MC(LOGG4), T2, T4            \
	VFMADD213PS MC(LOGG3), T2, T4            \
	VFMADD213PS MC(LOGG2), T2, T4            \
	VFMADD213PS MC(LOGG1), T2, T4            \
	VFMADD213PS MC(LOGG0), T2, T4            \
	VFMADD213PS MC(NEGHALF), T2, T4          \
	VMULPS      T2, T2, T5                   \
	VFMADD213PS T2, T5, T4                   \ // f²(g f - 1/2) + f
	VFMADD231PS MC(LN2LO), T3, T4            \
	VFMADD231PS MC(LN2HI), T3, T4            \
	VCMPPS      $0x00, MC(ZERO), X, T5      \ // x == ±0 -> -Inf
	VBLENDVPS   T5, MC(NEGINF), T4, T4       \
	VCMPPS      $0x00, MC(POSINF), X, T5    \ // x == +Inf -> +Inf
	VBLENDVPS   T5, MC(POSINF), T4, T4       \
	VCMPPS      $0x09, MC(ZERO), X, T5      \ // !(x >= 0) (NGE_UQ): x < 0 or NaN
	VORPS       T5, T4, X                   // all ones is a NaN

// MATHLOOP runs dst[i] = BODY(x[i]) with DI=dst, SI=x, CX=n: 16 at a time
// as two independent chains (Y0-Y5 and Y6-Y11), then 8, then a masked tail.
#define MATHLOOP(BODY) \
loop16:                                 \
	CMPQ    CX, $16                     \
	JB      loop8                       \
	VMOVUPS (SI), Y0                    \
	VMOVUPS 32(SI), Y6                  \
	BODY(Y0, Y1, Y2, Y3, Y4, Y5)        \
	BODY(Y6, Y7, Y8, Y9, Y10, Y11)      \
	VMOVUPS Y0, (DI)                    \
	VMOVUPS Y6, 32(DI)                  \
	ADDQ    $64, SI                     \
	ADDQ    $64, DI                     \
	SUBQ    $16, CX                     \
	JMP     loop16                      \
loop8:                                  \
	CMPQ    CX, $8                      \
	JB      tail                        \
	VMOVUPS (SI), Y0                    \
	BODY(Y0, Y1, Y2, Y3, Y4, Y5)        \
	VMOVUPS Y0, (DI)                    \
	ADDQ    $32, SI                     \
	ADDQ    $32, DI                     \
	SUBQ    $8, CX                      \
tail:                                   \
	TESTQ   CX, CX                      \
	JZ      done                        \
	TAILMASK                            \
	VMASKMOVPS (SI), Y15, Y0            \
	BODY(Y0, Y1, Y2, Y3, Y4, Y5)        \
	VMASKMOVPS Y0, Y15, (DI)            \
done:                                   \
	VZEROUPPER

// func expAVX2(dst, x []float32)
TEXT ·expAVX2(SB), NOSPLIT, $0-48
	MOVQ    dst_base+0(FP), DI
	MOVQ    dst_len+8(FP), CX
	MOVQ    x_base+24(FP), SI
	VMOVUPS MC(EXPLO), Y12
	VMOVUPS MC(EXPHI), Y13
	MATHLOOP(EXPBODY)
	RET

// func logAVX2(dst, x []float32)
TEXT ·logAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MATHLOOP(LOGBODY)
	RET

// func sumAVX2(x []float32) float32
// Four accumulators of 8 lanes; sumGeneric mirrors this order exactly.
TEXT ·sumAVX2(SB), NOSPLIT, $0-28
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ   CX, $32
	JB     loop8

loop32:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	ADDQ   $128, SI
	SUBQ   $32, CX
	CMPQ   CX, $32
	JAE    loop32

loop8:
	CMPQ   CX, $8
	JB     tail
	VADDPS (SI), Y0, Y0
	ADDQ   $32, SI
	SUBQ   $8, CX
	JMP    loop8

tail:
	TESTQ      CX, CX
	JZ         reduce
	TAILMASK
	VMASKMOVPS (SI), Y15, Y4
	VADDPS     Y4, Y0, Y0 // +0 in the masked lanes: no change

reduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0 // s[j] = a[j] + a[j+4]
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0 // s0+s2, s1+s3
	VMOVSHDUP    X0, X1
	VADDSS       X1, X0, X0
	VZEROUPPER
	MOVSS        X0, ret+24(FP)
	RET

// func maxAVX2(x []float32) float32
// VMAXPS drops a NaN in one operand in favour of the other, so NaNs are
// tracked apart: Y8 collects unordered compares, and any NaN seen returns
// NaN. x is not empty (the wrapper checks).
TEXT ·maxAVX2(SB), NOSPLIT, $0-28
	MOVQ    x_base+0(FP), SI
	MOVQ    x_len+8(FP), CX
	VMOVUPS MC(NEGINF), Y9
	VMOVUPS Y9, Y0
	VMOVUPS Y9, Y1
	VMOVUPS Y9, Y2
	VMOVUPS Y9, Y3
	VXORPS  Y8, Y8, Y8
	CMPQ    CX, $32
	JB      loop8

loop32:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VMAXPS  Y4, Y0, Y0
	VMAXPS  Y5, Y1, Y1
	VMAXPS  Y6, Y2, Y2
	VMAXPS  Y7, Y3, Y3
	VCMPPS  $3, Y5, Y4, Y4 // unordered: either is NaN
	VCMPPS  $3, Y7, Y6, Y6
	VORPS   Y4, Y8, Y8
	VORPS   Y6, Y8, Y8
	ADDQ    $128, SI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     loop32

loop8:
	CMPQ    CX, $8
	JB      tail
	VMOVUPS (SI), Y4
	VMAXPS  Y4, Y0, Y0
	VCMPPS  $3, Y4, Y4, Y4
	VORPS   Y4, Y8, Y8
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     loop8

tail:
	TESTQ      CX, CX
	JZ         reduce
	TAILMASK
	VMASKMOVPS (SI), Y15, Y4
	VBLENDVPS  Y15, Y4, Y9, Y4 // -Inf in the masked lanes
	VMAXPS     Y4, Y0, Y0
	VCMPPS     $3, Y4, Y4, Y4
	VORPS      Y4, Y8, Y8

reduce:
	VMAXPS       Y1, Y0, Y0
	VMAXPS       Y3, Y2, Y2
	VMAXPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VMAXSS       X1, X0, X0
	VMOVMSKPS    Y8, AX
	VZEROUPPER
	TESTL        AX, AX
	JNZ          nan
	MOVSS        X0, ret+24(FP)
	RET

nan:
	MOVL $0x7fc00000, AX
	MOVL AX, ret+24(FP)
	RET
