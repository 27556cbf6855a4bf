//go:build amd64 && !purego

#include "textflag.h"

// The output gradient's transform of the Winograd weight gradient, the
// assembly twin of winoGrad2Generic (winograd_dw.go): the same operations
// in the same order, so the two agree bit for bit.

// STORE4 writes the transformed row (p, q) of A g as the four matrices
// p, p+q, p-q and -q, us bytes (R8) apart from R11 on, advancing R11.
// Negation flips the sign bit (Y13), as Go's unary minus does.
#define STORE4(p, q) \
	VMOVUPS p, (R11) \
	ADDQ    R8, R11 \
	VADDPS  q, p, Y4 \
	VMOVUPS Y4, (R11) \
	ADDQ    R8, R11 \
	VSUBPS  q, p, Y4 \
	VMOVUPS Y4, (R11) \
	ADDQ    R8, R11 \
	VXORPS  Y13, q, Y4 \
	VMOVUPS Y4, (R11) \
	ADDQ    R8, R11

// func winoGrad2AVX2(u *float32, us int, grad *float32, offs *int32, n int, ldg int)
// Eight lanes at a time (n a multiple of 8): the 2×2 tile of lane j is
// gathered from grad at offs[j] and offs[j]+ldg, and the 16 results go to
// u[ξ*us + j].
TEXT ·winoGrad2AVX2(SB), NOSPLIT, $0-48
	MOVQ u+0(FP), DI
	MOVQ us+8(FP), R8
	SHLQ $2, R8
	MOVQ grad+16(FP), SI
	MOVQ offs+24(FP), DX
	MOVQ n+32(FP), CX
	MOVQ ldg+40(FP), R10
	LEAQ (SI)(R10*4), R10
	VPCMPEQD Y13, Y13, Y13
	VPSLLD   $31, Y13, Y13
	SHRQ     $3, CX
	JZ       done

loop:
	VMOVDQU    (DX), Y15
	VPCMPEQD   Y14, Y14, Y14
	VGATHERDPS Y14, (SI)(Y15*4), Y0
	VPCMPEQD   Y14, Y14, Y14
	VGATHERDPS Y14, 4(SI)(Y15*4), Y1
	VPCMPEQD   Y14, Y14, Y14
	VGATHERDPS Y14, (R10)(Y15*4), Y2
	VPCMPEQD   Y14, Y14, Y14
	VGATHERDPS Y14, 4(R10)(Y15*4), Y3
	MOVQ       DI, R11

	// Rows of A g: (a, b), (a+c, b+d), (a-c, b-d), (-c, -d).
	STORE4(Y0, Y1)
	VADDPS Y2, Y0, Y5
	VADDPS Y3, Y1, Y6
	STORE4(Y5, Y6)
	VSUBPS Y2, Y0, Y5
	VSUBPS Y3, Y1, Y6
	STORE4(Y5, Y6)
	VXORPS Y13, Y2, Y5
	VXORPS Y13, Y3, Y6
	STORE4(Y5, Y6)

	ADDQ $32, DI
	ADDQ $32, DX
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET
