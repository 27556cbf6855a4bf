//go:build amd64 && !purego

#include "textflag.h"

// func sgdStepAVX2(p, grad, buf *float32, n int, wd, mom, damp, negLR float32, flags int)
// sgdStepGeneric 8 lanes at a time; every FMA32 of the twin is one VFMADD
// (a single rounding), every other operation rounds as the twin's does.
TEXT ·sgdStepAVX2(SB), NOSPLIT, $0-56
	MOVQ         p+0(FP), DI
	MOVQ         grad+8(FP), SI
	MOVQ         buf+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS wd+32(FP), Y0
	VBROADCASTSS mom+36(FP), Y1
	VBROADCASTSS damp+40(FP), Y2
	VBROADCASTSS negLR+44(FP), Y3
	MOVQ         flags+48(FP), R8
	SHRQ         $3, CX
	JZ           sgddone

sgdloop:
	VMOVUPS (SI), Y4 // d = g
	VMOVUPS (DI), Y5 // p
	BTQ     $0, R8   // weight decay
	JCC     sgdnowd
	VFMADD231PS Y0, Y5, Y4 // d = p*wd + d

sgdnowd:
	BTQ $1, R8 // momentum
	JCC sgdupdate
	BTQ $2, R8 // first step
	JCC sgdnotfirst
	VMOVAPS Y4, Y6 // buf = d
	JMP     sgdstore

sgdnotfirst:
	VMULPS      (DX), Y1, Y6 // buf*mom, rounded
	VFMADD231PS Y2, Y4, Y6   // buf = d*(1-damp) + buf*mom

sgdstore:
	VMOVUPS Y6, (DX)
	ADDQ    $32, DX
	BTQ     $3, R8 // Nesterov
	JCC     sgdplain
	VFMADD231PS Y1, Y6, Y4 // d = buf*mom + d
	JMP         sgdupdate

sgdplain:
	VMOVAPS Y6, Y4 // d = buf

sgdupdate:
	VFMADD231PS Y3, Y4, Y5 // p = d*(-lr) + p
	VMOVUPS     Y5, (DI)
	ADDQ        $32, DI
	ADDQ        $32, SI
	DECQ        CX
	JNZ         sgdloop

sgddone:
	VZEROUPPER
	RET

// func adamStepAVX2(p, grad, m, v *float32, n int, o *AdamOptions, wd int)
// adamStepGeneric without AMSGrad, 8 lanes at a time. VSQRTPS is the
// correctly rounded float32 square root, which the twin's float64 root
// rounded to float32 equals.
TEXT ·adamStepAVX2(SB), NOSPLIT, $0-56
	MOVQ         p+0(FP), DI
	MOVQ         grad+8(FP), SI
	MOVQ         m+16(FP), DX
	MOVQ         v+24(FP), BX
	MOVQ         n+32(FP), CX
	MOVQ         o+40(FP), AX
	MOVQ         wd+48(FP), R8
	VBROADCASTSS 0(AX), Y0  // weight decay
	VBROADCASTSS 4(AX), Y1  // beta1
	VBROADCASTSS 8(AX), Y2  // beta2
	VBROADCASTSS 12(AX), Y3 // 1 - beta1
	VBROADCASTSS 16(AX), Y4 // 1 - beta2
	VBROADCASTSS 20(AX), Y5 // -step
	VBROADCASTSS 24(AX), Y6 // sqrt(bias correction 2)
	VBROADCASTSS 28(AX), Y7 // eps
	SHRQ         $3, CX
	JZ           adamdone

adamloop:
	VMOVUPS (SI), Y8 // g
	VMOVUPS (DI), Y9 // p
	TESTQ   R8, R8
	JZ      adamnowd
	VFMADD231PS Y0, Y9, Y8 // g = p*wd + g

adamnowd:
	VMULPS      (DX), Y1, Y10 // m*b1, rounded
	VFMADD231PS Y3, Y8, Y10   // m = g*(1-b1) + m*b1
	VMOVUPS     Y10, (DX)
	VMULPS      Y4, Y8, Y11   // (1-b2)*g, rounded
	VMULPS      (BX), Y2, Y12 // v*b2, rounded
	VFMADD231PS Y8, Y11, Y12  // v = ((1-b2)*g)*g + v*b2
	VMOVUPS     Y12, (BX)
	VSQRTPS     Y12, Y13
	VDIVPS      Y6, Y13, Y13  // sqrt(v) / sqrt(bc2)
	VADDPS      Y7, Y13, Y13  // + eps
	VMULPS      Y5, Y10, Y14  // -step*m
	VDIVPS      Y13, Y14, Y14 // / denom
	VADDPS      Y14, Y9, Y9   // p + update
	VMOVUPS     Y9, (DI)
	ADDQ        $32, DI
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, BX
	DECQ        CX
	JNZ         adamloop

adamdone:
	VZEROUPPER
	RET
