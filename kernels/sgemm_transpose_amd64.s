//go:build amd64 && !purego

#include "textflag.h"

// func transpose8AVX(dst, src *float32, ldsrc, lddst, rows, nblk int)
// Transposes nblk consecutive 8-column blocks of a rows×(8*nblk) matrix
// (rows 1..8, row r at src[r*ldsrc:]) (see transpose8Go): column j of
// block b, that is src[r*ldsrc+8*b+j] for r < 8, goes to the 8 floats at
// dst[(8*b+j)*lddst:], rows past rows as zeros. The 8 stores of a block go
// in column order, so with lddst < 8 each overwrites the previous one's
// tail: the caller packs that way into mr-float rows (mr = 6) and must own
// 8 floats from the last row's start. Strides are in floats.
TEXT ·transpose8AVX(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ldsrc+16(FP), R8
	SHLQ $2, R8
	MOVQ lddst+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+32(FP), R10
	MOVQ nblk+40(FP), CX
	TESTQ CX, CX
	JLE  done
block:
	// Rows 0..7 of the block into Y0..Y7, zeros past rows.
	MOVQ SI, AX
	VMOVUPS (AX), Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	CMPQ R10, $2
	JLT  loaded
	ADDQ R8, AX
	VMOVUPS (AX), Y1
	CMPQ R10, $3
	JLT  loaded
	ADDQ R8, AX
	VMOVUPS (AX), Y2
	CMPQ R10, $4
	JLT  loaded
	ADDQ R8, AX
	VMOVUPS (AX), Y3
	CMPQ R10, $5
	JLT  loaded
	ADDQ R8, AX
	VMOVUPS (AX), Y4
	CMPQ R10, $6
	JLT  loaded
	ADDQ R8, AX
	VMOVUPS (AX), Y5
	CMPQ R10, $7
	JLT  loaded
	ADDQ R8, AX
	VMOVUPS (AX), Y6
	CMPQ R10, $8
	JLT  loaded
	ADDQ R8, AX
	VMOVUPS (AX), Y7
loaded:
	// Pairs of rows interleaved, then quadruples, then the 128-bit halves
	// exchanged: Y8..Y15 end up as columns 0..7.
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	MOVQ DI, BX
	VMOVUPS Y8, (BX)
	ADDQ R9, BX
	VMOVUPS Y9, (BX)
	ADDQ R9, BX
	VMOVUPS Y10, (BX)
	ADDQ R9, BX
	VMOVUPS Y11, (BX)
	ADDQ R9, BX
	VMOVUPS Y12, (BX)
	ADDQ R9, BX
	VMOVUPS Y13, (BX)
	ADDQ R9, BX
	VMOVUPS Y14, (BX)
	ADDQ R9, BX
	VMOVUPS Y15, (BX)
	ADDQ R9, BX
	MOVQ BX, DI
	ADDQ $32, SI
	DECQ CX
	JNZ  block
	VZEROUPPER
done:
	RET
