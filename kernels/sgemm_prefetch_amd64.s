//go:build amd64 && !purego

#include "textflag.h"

// func prefetchRows(p *float32, stride, rows, span int)
// Prefetches rows lines-spans of span bytes, stride bytes apart, from p.
// PREFETCHT0 never faults, so the addresses need not be mapped.
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), DI
	MOVQ stride+8(FP), SI
	MOVQ rows+16(FP), CX
	MOVQ span+24(FP), DX
	TESTQ CX, CX
	JLE done
	TESTQ DX, DX
	JLE done
row:
	MOVQ DI, AX
	MOVQ DX, BX
line:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	SUBQ $64, BX
	JG line
	ADDQ SI, DI
	DECQ CX
	JNZ row
done:
	RET
