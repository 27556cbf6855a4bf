//go:build amd64 && !purego

#include "textflag.h"

// func packBRowsAVX(dst, src *float32, kc, np, vecs, ldb int)
// Packs np whole micro-panels of a row-major B, each vecs*8 floats wide,
// for kc rows (see packBPanels): row p of panel q, the floats
// src[p*ldb+q*nr : +nr], goes to dst[q*kc*nr+p*nr : +nr], nr = 8*vecs.
// It walks B row by row across all the panels, so that its reads are long
// contiguous runs. kc, np and vecs are at least 1; ldb is in floats.
TEXT ·packBRowsAVX(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ kc+16(FP), CX
	MOVQ np+24(FP), DX
	MOVQ vecs+32(FP), R8
	MOVQ ldb+40(FP), R9
	SHLQ $2, R9          // ldb in bytes
	MOVQ R8, R10
	SHLQ $5, R10         // nr*4: bytes of one panel row
	MOVQ CX, R11
	IMULQ R10, R11       // kc*nr*4: bytes of one panel
	CMPQ R8, $2
	JEQ  two
row:
	MOVQ SI, AX          // source: row p, panel 0
	MOVQ DI, BX          // destination: panel 0, row p
	MOVQ DX, R12
panel:
	MOVQ R8, R13
	XORQ R14, R14
vec:
	VMOVUPS (AX)(R14*1), Y0
	VMOVUPS Y0, (BX)(R14*1)
	ADDQ $32, R14
	DECQ R13
	JNZ  vec
	ADDQ R10, AX
	ADDQ R11, BX
	DECQ R12
	JNZ  panel
	ADDQ R9, SI
	ADDQ R10, DI
	DECQ CX
	JNZ  row
	VZEROUPPER
	RET

// The AVX2 kernel's 16-wide panels, unrolled: two vectors a panel row.
two:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ DX, R12
twopanel:
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS Y0, (BX)
	VMOVUPS Y1, 32(BX)
	ADDQ $64, AX
	ADDQ R11, BX
	DECQ R12
	JNZ  twopanel
	ADDQ R9, SI
	ADDQ R10, DI
	DECQ CX
	JNZ  two
	VZEROUPPER
	RET
