//go:build amd64 && !purego

#include "textflag.h"

// The batch-norm reductions and passes of batchnorm.go, for lengths the
// wrappers have cut to whole blocks (16 floats for the float64 sums, 8 for
// the passes). Each does the same operations in the same order as its Go
// twin, so that the results do not depend on the kernel path.

// REDUCE2 stores the sums of the lanes of Y0..Y3 and of Y4..Y7 at (DI)
// and 8(DI): ((Y0+Y1) + (Y2+Y3)), then lanes (0+2) + (1+3), as reduce16.
#define REDUCE2 \
	VADDPD Y1, Y0, Y0 \
	VADDPD Y3, Y2, Y2 \
	VADDPD Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPD X1, X0, X0 \
	VPERMILPD $1, X0, X1 \
	VADDSD X1, X0, X0 \
	VMOVSD X0, (DI) \
	VADDPD Y5, Y4, Y4 \
	VADDPD Y7, Y6, Y6 \
	VADDPD Y6, Y4, Y4 \
	VEXTRACTF128 $1, Y4, X5 \
	VADDPD X5, X4, X4 \
	VPERMILPD $1, X4, X5 \
	VADDSD X5, X4, X4 \
	VMOVSD X4, 8(DI)

// func sumDiff64AVX2(x *float32, n int, m float64, out *[2]float64)
// 16 float64 lanes of Σ(x-m) in Y0..Y3 and of Σ(x-m)² in Y4..Y7: lane l
// of Yv holds the elements i ≡ 4v+l (mod 16); squares are rounded before
// they are added (no fusion), as in sumDiff64Go.
TEXT ·sumDiff64AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD m+16(FP), Y15
	MOVQ out+24(FP), DI
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	SHRQ $4, CX
	JZ   reduce
loop:
	VCVTPS2PD (SI), Y8
	VCVTPS2PD 16(SI), Y9
	VCVTPS2PD 32(SI), Y10
	VCVTPS2PD 48(SI), Y11
	VSUBPD Y15, Y8, Y8
	VSUBPD Y15, Y9, Y9
	VSUBPD Y15, Y10, Y10
	VSUBPD Y15, Y11, Y11
	VADDPD Y8, Y0, Y0
	VADDPD Y9, Y1, Y1
	VADDPD Y10, Y2, Y2
	VADDPD Y11, Y3, Y3
	VMULPD Y8, Y8, Y8
	VMULPD Y9, Y9, Y9
	VMULPD Y10, Y10, Y10
	VMULPD Y11, Y11, Y11
	VADDPD Y8, Y4, Y4
	VADDPD Y9, Y5, Y5
	VADDPD Y10, Y6, Y6
	VADDPD Y11, Y7, Y7
	ADDQ $64, SI
	DECQ CX
	JNZ  loop
reduce:
	REDUCE2
	VZEROUPPER
	RET

// func sumProdDiff64AVX2(grad, x *float32, n int, m float64, out *[2]float64)
// Σg in Y0..Y3 and Σg·(x-m) in Y4..Y7, lanes as in sumDiff64AVX2.
TEXT ·sumProdDiff64AVX2(SB), NOSPLIT, $0-40
	MOVQ grad+0(FP), DX
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSD m+24(FP), Y15
	MOVQ out+32(FP), DI
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	SHRQ $4, CX
	JZ   preduce
ploop:
	VCVTPS2PD (DX), Y8
	VCVTPS2PD 16(DX), Y9
	VCVTPS2PD 32(DX), Y10
	VCVTPS2PD 48(DX), Y11
	VADDPD Y8, Y0, Y0
	VADDPD Y9, Y1, Y1
	VADDPD Y10, Y2, Y2
	VADDPD Y11, Y3, Y3
	VCVTPS2PD (SI), Y12
	VSUBPD Y15, Y12, Y12
	VMULPD Y12, Y8, Y8
	VADDPD Y8, Y4, Y4
	VCVTPS2PD 16(SI), Y12
	VSUBPD Y15, Y12, Y12
	VMULPD Y12, Y9, Y9
	VADDPD Y9, Y5, Y5
	VCVTPS2PD 32(SI), Y12
	VSUBPD Y15, Y12, Y12
	VMULPD Y12, Y10, Y10
	VADDPD Y10, Y6, Y6
	VCVTPS2PD 48(SI), Y12
	VSUBPD Y15, Y12, Y12
	VMULPD Y12, Y11, Y11
	VADDPD Y11, Y7, Y7
	ADDQ $64, DX
	ADDQ $64, SI
	DECQ CX
	JNZ  ploop
preduce:
	REDUCE2
	VZEROUPPER
	RET

// func scaleShiftAVX2(dst, x *float32, n int, a, b float32)
// dst = x*a + b, the product rounded first (no fusion).
TEXT ·scaleShiftAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y14
	VBROADCASTSS b+28(FP), Y15
	SHRQ $3, CX
	JZ   sdone
sloop:
	VMULPS (SI), Y14, Y0
	VADDPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  sloop
	VZEROUPPER
sdone:
	RET

// func bnInputGradAVX2(dst, grad, x *float32, n int, a, b, m, d float32)
// dst = g*a - (x-m)*b - d, each product rounded first.
TEXT ·bnInputGradAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ grad+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	VBROADCASTSS a+32(FP), Y12
	VBROADCASTSS b+36(FP), Y13
	VBROADCASTSS m+40(FP), Y14
	VBROADCASTSS d+44(FP), Y15
	SHRQ $3, CX
	JZ   bdone
bloop:
	VMULPS (DX), Y12, Y0
	VMOVUPS (SI), Y1
	VSUBPS Y14, Y1, Y1
	VMULPS Y13, Y1, Y1
	VSUBPS Y1, Y0, Y0
	VSUBPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DX
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  bloop
	VZEROUPPER
bdone:
	RET
