package kernels

// The op codes of the elementwise maps and reductions. They are defined here,
// at the bottom, so that the CPU implementations below and every device
// backend above (tensor re-exports them as its Backend's op codes) name the
// same operations with the same semantics.

// UnaryOp selects the elementwise map Unary applies. P and Q are the op's
// scalar parameters where it has any.
type UnaryOp int

// The unary maps. Where a map has a float32 PyTorch counterpart it must
// reproduce it: NaN in gives NaN out (except comparisons, which give 0, and
// NeScalar, which gives 1).
const (
	UNeg       UnaryOp = iota // -x
	UExp                      // e^x
	ULog                      // ln x
	USqrt                     // √x
	UAbs                      // |x|
	URelu                     // max(x, 0), NaN stays NaN
	USigmoid                  // 1/(1+e^-x)
	UTanh                     // tanh x
	USquare                   // x*x
	UAddScalar                // x + P
	UMulScalar                // x * P
	UDivScalar                // x / P (not x * (1/P): the rounding differs)
	UPowScalar                // x^P with C pow semantics (negative base, integer P is fine)
	UClamp                    // min(max(x, P), Q); NaN stays NaN
	UGtScalar                 // x > P ? 1 : 0
	UGeScalar                 // x >= P
	ULtScalar                 // x < P
	ULeScalar                 // x <= P
	UEqScalar                 // x == P
	UNeScalar                 // x != P
)

// BinaryOp selects the elementwise function Binary and its variants apply.
type BinaryOp int

// The binary functions of (a, b).
const (
	BAdd          BinaryOp = iota // a + b
	BSub                          // a - b
	BMul                          // a * b
	BDiv                          // a / b
	BPow                          // a^b, C pow semantics
	BMaximum                      // max(a, b); NaN if either is NaN
	BMinimum                      // min(a, b); NaN if either is NaN
	BGt                           // a > b ? 1 : 0
	BGe                           // a >= b
	BLt                           // a < b
	BLe                           // a <= b
	BEq                           // a == b
	BNe                           // a != b
	BReluBackward                 // b > 0 ? a : 0 (a is the gradient, b the relu input)
)

// ReduceOp selects what Reduce computes along the reduced axis.
type ReduceOp int

// The reductions.
const (
	RSum       ReduceOp = iota // Σ x, 0 for an empty axis
	RMax                       // max x; NaN if any x is NaN; never called on an empty axis
	RMin                       // min x; NaN if any x is NaN; never called on an empty axis
	RLogSumExp                 // log Σ e^x, shifted by the max (0 if the max is ±Inf); -Inf for an empty axis
)
