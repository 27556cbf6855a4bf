//go:build amd64 && !purego

#include "textflag.h"

// func packAGatherAVX512(dst, src *float32, idx *int32, kc int, storeMask, gatherMask, stride int)
// For p in [0, kc): gathers src[idx[i] + p] for the lanes i set in
// gatherMask (zero in the others) and stores the lanes set in storeMask at
// dst + p*stride bytes. With idx[i] = i*lda this packs a strip of rows of a
// row-major A into an A micro-panel; lanes outside the masks are neither
// read nor written.
TEXT ·packAGatherAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ idx+16(FP), AX
	MOVQ kc+24(FP), CX
	MOVQ storeMask+32(FP), R8
	MOVQ gatherMask+40(FP), R9
	MOVQ stride+48(FP), R10
	TESTQ CX, CX
	JLE done
	VMOVDQU32 (AX), Z1
	KMOVW R8, K1
loop:
	KMOVW R9, K2
	VPXORD Z0, Z0, Z0
	VGATHERDPS (SI)(Z1*4), K2, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $4, SI
	ADDQ R10, DI
	DECQ CX
	JNZ loop
	VZEROUPPER
done:
	RET
