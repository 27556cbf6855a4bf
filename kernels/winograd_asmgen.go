//go:build ignore

// This program writes winograd_amd64.s, the Winograd input and output
// transforms for AVX2+FMA and AVX-512 (F(2×2, 3×3) and F(4×4, 3×3)). They
// are unrolled over the whole tile, which is tedious and error-prone by
// hand, so they are generated; run go generate ./kernels (or go run
// winograd_asmgen.go in this directory) after changing it;
// TestWinogradAsmIsGenerated checks that the two agree. Their specification is the pure-Go
// twins in winograd_generic.go (winoIn*Generic, winoOut*Generic), which
// they follow operation for operation, in the same order, so that they
// round alike: where the twin multiplies by a power of two and adds, the
// assembly may fuse the two (the product is exact, so the result is the
// same); any other product is rounded separately, as in Go.
//
// Lanes are consecutive tiles of one panel, one per vector element, each
// found through its offset. Both transforms move tile rows between memory
// and registers four floats (one 128-bit chunk) per lane at a time and
// transpose 4×4 blocks within chunks, which measured several times faster
// than gathers on Zen 5.
package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

// isa is a vector instruction set: register prefix, lanes per register.
type isa struct {
	name  string
	reg   string
	lanes int
}

var (
	avx2   = isa{"AVX2", "Y", 8}
	avx512 = isa{"AVX512", "Z", 16}
)

func (s isa) r(n int) string { return fmt.Sprintf("%s%d", s.reg, n) }
func (s isa) vb() int        { return s.lanes * 4 }

// Register plan (both ISAs fit in Y0-Y15; F(4×4)'s coefficients are
// memory operands, rows of the table winoK4):
//
//	0-7   tile values of one column or row (α ≤ 6), outputs; 7 the bias
//	8-11  temporaries
//	15    lower bound of the ReLU (output)
const (
	rT0 = 8
	rLo = 15
)

// sink receives output i of a 1-D transform in register reg, which it must
// consume before the transform emits its next instruction.
type sink func(i int, reg string)

// bt emits Bᵀ·d for d in registers d[0..α-1], following bt2/bt4.
func bt(s isa, m int, d []string, out sink) {
	t0, t1, t2 := s.r(rT0), s.r(rT0+1), s.r(rT0+2)
	switch m {
	case 2:
		// d0 - d2, d1 + d2, d2 - d1, d1 - d3
		p("VSUBPS %s, %s, %s", d[2], d[0], t0)
		out(0, t0)
		p("VADDPS %s, %s, %s", d[2], d[1], t0)
		out(1, t0)
		p("VSUBPS %s, %s, %s", d[1], d[2], t0)
		out(2, t0)
		p("VSUBPS %s, %s, %s", d[3], d[1], t0)
		out(3, t0)
	case 4:
		// Products rounded alone, then added in the twin's order.
		mul := func(k, src, dst string) { p("VMULPS %s, %s, %s", k4(k), src, dst) }
		mul("16_9", d[2], t0)
		p("VSUBPS %s, %s, %s", t0, d[4], t0) // a = d4 - 16/9 d2
		mul("2_3", d[3], t1)
		mul("32_27", d[1], t2)
		p("VSUBPS %s, %s, %s", t2, t1, t1) // b = 2/3 d3 - 32/27 d1
		p("VADDPS %s, %s, %s", t1, t0, t2)
		out(1, t2)
		p("VSUBPS %s, %s, %s", t1, t0, t2)
		out(2, t2)
		mul("4_9", d[2], t0)
		p("VSUBPS %s, %s, %s", t0, d[4], t0) // c = d4 - 4/9 d2
		mul("4_3", d[3], t1)
		mul("16_27", d[1], t2)
		p("VSUBPS %s, %s, %s", t2, t1, t1) // e = 4/3 d3 - 16/27 d1
		p("VADDPS %s, %s, %s", t1, t0, t2)
		out(3, t2)
		p("VSUBPS %s, %s, %s", t1, t0, t2)
		out(4, t2)
		// (64/81 d0 - 20/9 d2) + d4 and (64/81 d1 - 20/9 d3) + d5
		mul("64_81", d[0], t0)
		mul("20_9", d[2], t1)
		p("VSUBPS %s, %s, %s", t1, t0, t0)
		p("VADDPS %s, %s, %s", d[4], t0, t0)
		out(0, t0)
		mul("64_81", d[1], t0)
		mul("20_9", d[3], t1)
		p("VSUBPS %s, %s, %s", t1, t0, t0)
		p("VADDPS %s, %s, %s", d[5], t0, t0)
		out(5, t0)
	}
}

// at emits Aᵀ·v for v in registers v[0..α-1], following at2/at4; it may
// overwrite v.
func at(s isa, m int, v []string, out sink) {
	t0, t1, t2, t3 := s.r(rT0), s.r(rT0+1), s.r(rT0+2), s.r(rT0+3)
	switch m {
	case 2:
		// (m0 + m1) + m2, (m1 - m2) - m3
		p("VADDPS %s, %s, %s", v[1], v[0], t0)
		p("VADDPS %s, %s, %s", v[2], t0, t0)
		out(0, t0)
		p("VSUBPS %s, %s, %s", v[2], v[1], t0)
		p("VSUBPS %s, %s, %s", v[3], t0, t0)
		out(1, t0)
	case 4:
		mul := func(k, src, dst string) { p("VMULPS %s, %s, %s", k4(k), src, dst) }
		p("VADDPS %s, %s, %s", v[2], v[1], t0) // a
		p("VSUBPS %s, %s, %s", v[2], v[1], t1) // b
		p("VADDPS %s, %s, %s", v[4], v[3], t2) // c
		p("VSUBPS %s, %s, %s", v[4], v[3], t3) // d
		// (m0 + a) + c
		p("VADDPS %s, %s, %s", t0, v[0], v[0])
		p("VADDPS %s, %s, %s", t2, v[0], v[0])
		out(0, v[0])
		// 2/3 b + 4/3 d, 4/9 a + 16/9 c, (8/27 b + 64/27 d) + m5, in
		// registers 1-4, free once a-d are formed.
		mul("2_3", t1, v[1])
		mul("4_3", t3, v[2])
		p("VADDPS %s, %s, %s", v[2], v[1], v[1])
		out(1, v[1])
		mul("4_9", t0, v[2])
		mul("16_9", t2, v[3])
		p("VADDPS %s, %s, %s", v[3], v[2], v[2])
		out(2, v[2])
		mul("8_27", t1, v[3])
		mul("64_27", t3, v[4])
		p("VADDPS %s, %s, %s", v[4], v[3], v[3])
		p("VADDPS %s, %s, %s", v[5], v[3], v[3])
		out(3, v[3])
	}
}

// winoK4 names the rows of the constant table of F(4×4, 3×3): each is
// 16 copies of one coefficient, rounded to float32 as the Go constants
// k64_81, ... are.
var winoK4 = []struct {
	name string
	v    float32
}{
	{"64_81", 64. / 81}, {"20_9", 20. / 9}, {"16_9", 16. / 9}, {"32_27", 32. / 27},
	{"2_3", 2. / 3}, {"4_9", 4. / 9}, {"16_27", 16. / 27}, {"4_3", 4. / 3},
	{"8_27", 8. / 27}, {"64_27", 64. / 27},
}

// k4 is the memory operand of coefficient name (a whole register's worth).
func k4(name string) string {
	for i, k := range winoK4 {
		if k.name == name {
			return fmt.Sprintf("·winoK4+%d(SB)", i*64)
		}
	}
	panic(name)
}

// writeK4 emits the table winoK4.
func writeK4() {
	for i, k := range winoK4 {
		for j := 0; j < 16; j++ {
			fmt.Fprintf(&out, "DATA ·winoK4+%d(SB)/4, $0x%08x // %s\n", i*64+j*4, math.Float32bits(k.v), k.name)
		}
	}
	fmt.Fprintf(&out, "GLOBL ·winoK4(SB), RODATA|NOPTR, $%d\n\n", len(winoK4)*64)
}

// genIn writes winoIn{m}{ISA}(v *float32, vs int, x *float32, offs *int32,
// n int, ldx int, tmp *float32): the input transform of n lanes (n a
// positive multiple of the lanes of a register), tmp 2·α²·lanes floats.
//
//	DI v (advancing a register of lanes per group), BX vs*4, SI x,
//	DX offs, CX lanes left, R8 ldx*4, R13 tmp; R9 the tile row (load
//	pass), AX a lane's offset, R9-R12 output pointers (row pass).
func genIn(s isa, m int) {
	a := m + 2
	name := fmt.Sprintf("winoIn%d%s", m, s.name)
	fmt.Fprintf(&out, "// func %s(v *float32, vs int, x *float32, offs *int32, n int, ldx int, tmp *float32)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	p("MOVQ v+0(FP), DI")
	p("MOVQ vs+8(FP), BX")
	p("SHLQ $2, BX")
	p("MOVQ x+16(FP), SI")
	p("MOVQ offs+24(FP), DX")
	p("MOVQ n+32(FP), CX")
	p("MOVQ ldx+40(FP), R8")
	p("SHLQ $2, R8")
	p("MOVQ tmp+48(FP), R13")
	label(name + "_group")
	// Load pass: d[i][j] of every lane into the second half of tmp, row
	// by row: for four columns at a time, register r gets in its 128-bit
	// chunk k the four floats of lane 4k+r, and the transpose within
	// chunks leaves column j of all lanes in register j. Rows of α = 6 are
	// read as columns 0-3 and 2-5 (keeping 4 and 5), so nothing past the
	// tile is read.
	d2 := a * a * s.vb() // offset of d in tmp
	p("MOVQ SI, R9")
	for i := 0; i < a; i++ {
		blocks := []int{0}
		if a == 6 {
			blocks = []int{0, 2}
		}
		for _, c0 := range blocks {
			for r := 0; r < 4; r++ {
				for k := 0; k < s.lanes/4; k++ {
					p("MOVLQSX %d(DX), AX", (4*k+r)*4)
					if k == 0 {
						p("VMOVUPS %d(R9)(AX*4), X%d", c0*4, r)
					} else if s.reg == "Z" {
						p("VINSERTF32X4 $%d, %d(R9)(AX*4), Z%d, Z%d", k, c0*4, r, r)
					} else {
						p("VINSERTF128 $%d, %d(R9)(AX*4), Y%d, Y%d", k, c0*4, r, r)
					}
				}
			}
			transpose4(s, []int{0, 1, 2, 3})
			for j := 0; j < 4; j++ {
				if c0 == 2 && j < 2 {
					continue
				}
				p("VMOVUPS %s, %d(R13)", s.r(j), d2+(i*a+c0+j)*s.vb())
			}
		}
		if i < a-1 {
			p("ADDQ R8, R9")
		}
	}
	d := make([]string, a)
	for i := range d {
		d[i] = s.r(i)
	}
	// Column pass: t[r][c] = (Bᵀ d)[r][c], into the first half of tmp.
	for c := 0; c < a; c++ {
		for i := 0; i < a; i++ {
			p("VMOVUPS %d(R13), %s", d2+(i*a+c)*s.vb(), d[i])
		}
		bt(s, m, d, func(r int, reg string) {
			p("VMOVUPS %s, %d(R13)", reg, (r*a+c)*s.vb())
		})
	}
	// Row pass: v[(r*α + c)*vs] = (t B)[r][c]; R9 is the row's first
	// output, R10 = R9 + 3*vs, R11 = 3*vs, R12 = α*vs (all in bytes).
	p("MOVQ DI, R9")
	p("LEAQ (BX)(BX*2), R11")
	p("IMUL3Q $%d, BX, R12", a)
	for r := 0; r < a; r++ {
		for j := 0; j < a; j++ {
			p("VMOVUPS %d(R13), %s", (r*a+j)*s.vb(), d[j])
		}
		p("LEAQ (R9)(R11*1), R10")
		bt(s, m, d, func(c int, reg string) {
			addr := []string{"(R9)", "(R9)(BX*1)", "(R9)(BX*2)", "(R10)", "(R9)(BX*4)", "(R10)(BX*2)"}[c]
			p("VMOVUPS %s, %s", reg, addr)
		})
		if r < a-1 {
			p("ADDQ R12, R9")
		}
	}
	p("ADDQ $%d, DI", s.vb())
	p("ADDQ $%d, DX", s.lanes*4)
	p("SUBQ $%d, CX", s.lanes)
	p("JG %s_group", name)
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

// transpose4 transposes the 4×4 blocks in each 128-bit chunk of the
// registers h[0..3] (row r in h[r]) into registers 0-3 (column j in j),
// with 8-11 as temporaries.
func transpose4(s isa, h []int) {
	p("VUNPCKLPS %s, %s, %s", s.r(h[1]), s.r(h[0]), s.r(8))
	p("VUNPCKHPS %s, %s, %s", s.r(h[1]), s.r(h[0]), s.r(9))
	p("VUNPCKLPS %s, %s, %s", s.r(h[3]), s.r(h[2]), s.r(10))
	p("VUNPCKHPS %s, %s, %s", s.r(h[3]), s.r(h[2]), s.r(11))
	p("VSHUFPS $0x44, %s, %s, %s", s.r(10), s.r(8), s.r(0))
	p("VSHUFPS $0xee, %s, %s, %s", s.r(10), s.r(8), s.r(1))
	p("VSHUFPS $0x44, %s, %s, %s", s.r(11), s.r(9), s.r(2))
	p("VSHUFPS $0xee, %s, %s, %s", s.r(11), s.r(9), s.r(3))
}

// genOut writes winoOut{m}{ISA}(y *float32, ldy int, offs *int32, n int,
// mm *float32, ms int, bias float32, relu int, tmp *float32): the output
// transform of n ≥ 1 lanes; it reads whole registers of M (n rounded up
// to the lanes of one) and writes only the n lanes' pixels.
//
//	DI y, R8 ldy*4, DX offs, CX lanes left, SI mm (advancing), BX ms*4,
//	R11 α*ms*4, R13 tmp; R9/R10 M pointers, R12 the output row, AX a
//	lane's address.
func genOut(s isa, m int) {
	a := m + 2
	name := fmt.Sprintf("winoOut%d%s", m, s.name)
	fmt.Fprintf(&out, "// func %s(y *float32, ldy int, offs *int32, n int, mm *float32, ms int, bias float32, relu int, tmp *float32)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-72\n", name)
	// Lower bound of the ReLU: 0, or -Inf (a no-op) without it. VMAXPS
	// with the bound as its first source returns the value when it is NaN
	// or both are zero, so NaN and -0 pass as reluF lets them.
	p("MOVL $0xff800000, AX")
	p("MOVQ relu+56(FP), R9")
	p("TESTQ R9, R9")
	p("JZ %s_norelu", name)
	p("XORL AX, AX")
	label(name + "_norelu")
	p("VMOVD AX, X%d", rLo)
	p("VBROADCASTSS X%d, %s", rLo, s.r(rLo))
	bias := s.r(7)
	p("VBROADCASTSS bias+48(FP), %s", bias)
	p("MOVQ y+0(FP), DI")
	p("MOVQ ldy+8(FP), R8")
	p("SHLQ $2, R8")
	p("MOVQ offs+16(FP), DX")
	p("MOVQ n+24(FP), CX")
	p("MOVQ mm+32(FP), SI")
	p("MOVQ ms+40(FP), BX")
	p("SHLQ $2, BX")
	p("MOVQ tmp+64(FP), R13")
	p("IMUL3Q $%d, BX, R11", a)
	label(name + "_group")
	v := make([]string, a)
	for i := range v {
		v[i] = s.r(i)
	}
	// Column pass: t[r][c] = (Aᵀ M)[r][c], M[i][c] at SI + (i*α + c)*ms.
	p("MOVQ SI, R9")
	for c := 0; c < a; c++ {
		p("LEAQ (R9)(R11*2), R10")
		p("ADDQ R11, R10")
		for i := 0; i < a; i++ {
			addr := []string{"(R9)", "(R9)(R11*1)", "(R9)(R11*2)", "(R10)", "(R10)(R11*1)", "(R10)(R11*2)"}[i]
			p("VMOVUPS %s, %s", addr, v[i])
		}
		at(s, m, v, func(r int, reg string) {
			p("VMOVUPS %s, %d(R13)", reg, (r*a+c)*s.vb())
		})
		if c < a-1 {
			p("ADDQ BX, R9")
		}
	}
	// Row pass: pixels (r, 0..m-1) of every lane, bias added and clamped
	// into the hold registers (free by the time each output appears),
	// transposed within each 128-bit chunk and stored lane by lane.
	hold := []int{0, 1, 2, 3}
	if m == 2 {
		hold = []int{4, 5}
	}
	for r := 0; r < m; r++ {
		for j := 0; j < a; j++ {
			p("VMOVUPS %d(R13), %s", (r*a+j)*s.vb(), v[j])
		}
		at(s, m, v, func(c int, reg string) {
			h := s.r(hold[c])
			p("VADDPS %s, %s, %s", bias, reg, h)
			p("VMAXPS %s, %s, %s", h, s.r(rLo), h)
		})
		if r == 0 {
			p("MOVQ DI, R12")
		} else {
			p("ADDQ R8, R12")
		}
		done := fmt.Sprintf("%s_row%d", name, r)
		lane := func(l int) {
			if l > 0 {
				p("CMPQ CX, $%d", l)
				p("JLE %s", done)
			}
			p("MOVLQSX %d(DX), AX", l*4)
			p("LEAQ (R12)(AX*4), AX")
		}
		extract := func(k, src, dst int) {
			if s.reg == "Z" {
				p("VEXTRACTF32X4 $%d, Z%d, X%d", k, src, dst)
			} else {
				p("VEXTRACTF128 $%d, Y%d, X%d", k, src, dst)
			}
		}
		if m == 4 {
			transpose4(s, hold)
			// Lane l is chunk l/4 of register l%4.
			for l := 0; l < s.lanes; l++ {
				lane(l)
				if k := l / 4; k == 0 {
					p("VMOVUPS X%d, (AX)", l%4)
				} else if s.reg == "Z" {
					p("VEXTRACTF32X4 $%d, Z%d, (AX)", k, l%4)
				} else {
					p("VEXTRACTF128 $%d, Y%d, (AX)", k, l%4)
				}
			}
		} else {
			h := hold
			p("VUNPCKLPS %s, %s, %s", s.r(h[1]), s.r(h[0]), s.r(8))
			p("VUNPCKHPS %s, %s, %s", s.r(h[1]), s.r(h[0]), s.r(9))
			// Lanes 4k, 4k+1: low and high halves of chunk k of 8; 4k+2,
			// 4k+3: of 9.
			for l := 0; l < s.lanes; l++ {
				k := l / 4
				x8, x9 := 8, 9
				if k > 0 {
					x8, x9 = 10, 11
					if l%4 == 0 {
						extract(k, 8, 10)
						extract(k, 9, 11)
					}
				}
				lane(l)
				switch l % 4 {
				case 0:
					p("VMOVLPS X%d, (AX)", x8)
				case 1:
					p("VMOVHPS X%d, (AX)", x8)
				case 2:
					p("VMOVLPS X%d, (AX)", x9)
				case 3:
					p("VMOVHPS X%d, (AX)", x9)
				}
			}
		}
		label(done)
	}
	p("ADDQ $%d, SI", s.vb())
	p("ADDQ $%d, DX", s.lanes*4)
	p("SUBQ $%d, CX", s.lanes)
	p("JG %s_group", name)
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

func main() {
	out.WriteString("// Code generated by winograd_asmgen.go; DO NOT EDIT.\n\n")
	out.WriteString("//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	writeK4()
	for _, s := range []isa{avx2, avx512} {
		for _, m := range []int{2, 4} {
			genIn(s, m)
			genOut(s, m)
		}
	}
	// The output path may be given, so that a test can regenerate into a
	// temporary file and compare it with the committed one.
	path := "winograd_amd64.s"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
