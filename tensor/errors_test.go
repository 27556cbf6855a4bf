package tensor

import (
	"errors"
	"strings"
	"testing"
)

// TestShapeErrors gives every op that can be misused an invalid call and
// checks that it panics with a *ShapeError whose message names the op as
// "tensor.<Op>" and every shape involved. (The unary maps and constructors
// without a shape argument cannot be given incompatible shapes.)
func TestShapeErrors(t *testing.T) {
	a23, a43 := Zeros(2, 3), Zeros(4, 3)
	bin := map[string]func(a, b *Tensor) *Tensor{
		"Add": Add, "Sub": Sub, "Mul": Mul, "Div": Div, "Pow": Pow, "Maximum": Maximum,
		"Minimum": Minimum, "Gt": Gt, "Ge": Ge, "Lt": Lt, "Le": Le, "Eq": Eq, "Ne": Ne,
		"ReluBackward": ReluBackward,
	}
	type tc struct {
		op     string
		shapes []string
		fn     func()
	}
	var cases []tc
	for name, f := range bin {
		cases = append(cases, tc{name, []string{"[2 3]", "[4 3]"}, func() { f(a23, a43) }})
	}
	x3 := Zeros(2, 3, 4)
	cases = append(cases, []tc{
		{"Where", []string{"[2 3]", "[4 3]", "[3]"}, func() { Where(a23, a43, Zeros(3)) }},
		{"MatMul", []string{"[2 3]", "[4 5]"}, func() { MatMul(a23, Zeros(4, 5)) }},
		{"MatMul", []string{"[3]", "[3 2]"}, func() { MatMul(Zeros(3), Zeros(3, 2)) }},
		{"MatMul", []string{"[2 3 4]", "[3 4 5]"}, func() { MatMul(x3, Zeros(3, 4, 5)) }},
		{"MatMulT", []string{"[2 3]", "[2 3]"}, func() { MatMulT(a23, a23, false, false) }},
		{"MatMulT", []string{"[2 3]", "[4 3]"}, func() { MatMulT(a23, a43, true, true) }},
		{"Linear", []string{"[2 3]", "[4 5]"}, func() { Linear(a23, Zeros(4, 5), nil) }},
		{"Linear", []string{"[2 3]", "[4 3]", "[5]"}, func() { Linear(a23, a43, Zeros(5)) }},
		{"Reshape", []string{"[2 3]", "[4]"}, func() { a23.Reshape(4) }},
		{"Reshape", []string{"[2 3]", "[-1 4]"}, func() { a23.Reshape(-1, 4) }},
		{"Flatten", []string{"[2 3]"}, func() { a23.Flatten(0, 2) }},
		{"Squeeze", []string{"[2 3]"}, func() { a23.Squeeze(2) }},
		{"Unsqueeze", []string{"[2 3]"}, func() { a23.Unsqueeze(4) }},
		{"Permute", []string{"[2 3]"}, func() { a23.Permute(0, 0) }},
		{"Permute", []string{"[2 3]"}, func() { a23.Permute(0) }},
		{"Transpose", []string{"[2 3]"}, func() { a23.Transpose(0, 2) }},
		{"T", []string{"[2 3 4]"}, func() { x3.T() }},
		{"Slice", []string{"[2 3]"}, func() { a23.Slice(1, 3) }},
		{"Narrow", []string{"[2 3]"}, func() { a23.Narrow(1, 2, 2) }},
		{"IndexSelect", []string{"[2 3]"}, func() { a23.IndexSelect(0, []int{2}) }},
		{"IndexAdd", []string{"[2 3]", "[4 3]"}, func() { IndexAdd(a23, 0, []int{0, 1}, a43) }},
		{"IndexAdd", []string{"[2 3]", "[1 3]"}, func() { IndexAdd(a23, 0, []int{-1}, Zeros(1, 3)) }},
		{"Concat", []string{"[2 3]", "[4 5]"}, func() { Concat(0, a23, Zeros(4, 5)) }},
		{"Concat", []string{"[2 3]", "[2 3 4]"}, func() { Concat(0, a23, x3) }},
		{"Stack", []string{"[2 3]", "[4 3]"}, func() { Stack(0, a23, a43) }},
		{"Expand", []string{"[2 3]", "[4 3]"}, func() { a23.Expand(4, 3) }},
		{"Expand", []string{"[2 3]", "[3]"}, func() { a23.Expand(3) }},
		{"SumTo", []string{"[2 3]", "[4 3]"}, func() { a23.SumTo(4, 3) }},
		{"SumTo", []string{"[2 3]", "[2 3 1]"}, func() { a23.SumTo(2, 3, 1) }},
		{"Sum", []string{"[2 3]"}, func() { Sum(a23, false, 2) }},
		{"Sum", []string{"[2 3]"}, func() { Sum(a23, false, 1, -1) }},
		{"Mean", []string{"[2 3]"}, func() { Mean(a23, true, -3) }},
		{"Max", []string{"[2 3]"}, func() { Max(a23, 2, false) }},
		{"Max", []string{"[2 0]"}, func() { Max(Zeros(2, 0), 1, false) }},
		{"Min", []string{"[2 3]"}, func() { Min(a23, -3, false) }},
		{"MaxAll", []string{"[0 3]"}, func() { MaxAll(Zeros(0, 3)) }},
		{"Argmax", []string{"[2 3]"}, func() { Argmax(a23, 5) }},
		{"LogSumExp", []string{"[2 3]"}, func() { LogSumExp(a23, 2, false) }},
		{"Softmax", []string{"[2 3]"}, func() { Softmax(a23, 2) }},
		{"LogSoftmax", []string{"[2 3]"}, func() { LogSoftmax(a23, -3) }},
		{"FromSlice", []string{"[2 3]"}, func() { FromSlice(make([]float32, 5), 2, 3) }},
		{"Zeros", []string{"[2 -1]"}, func() { Zeros(2, -1) }},
		{"Full", []string{"[-2]"}, func() { Full(1, -2) }},
		{"Normal", []string{"[-2]"}, func() { Normal(newSrc(0), 0, 1, -2) }},
		{"At", []string{"[2 3]"}, func() { a23.At(1) }},
		{"At", []string{"[2 3]"}, func() { a23.At(2, 0) }},
		{"Set", []string{"[2 3]"}, func() { a23.Set(1, 0, 3) }},
		{"Item", []string{"[2 3]"}, func() { a23.Item() }},
		{"Size", []string{"[2 3]"}, func() { a23.Size(2) }},
		{"CopyFrom", []string{"[2 3]", "[4 3]"}, func() { a23.CopyFrom(a43) }},
		{"AddInPlace", []string{"[3]", "[2 3]"}, func() { Zeros(3).AddInPlace(a23) }},
		{"AxpyInPlace", []string{"[2 3]", "[3]"}, func() { a23.AxpyInPlace(1, Zeros(3)) }},
		{"AllClose", []string{"[2 3]", "[4 3]"}, func() { AllClose(a23, a43, 0, 0) }},
	}...)
	for _, c := range cases {
		se := mustPanicShape(t, c.op, c.fn)
		msg := se.Error()
		if want := "tensor." + c.op + ":"; !strings.HasPrefix(msg, want) || se.Op != "tensor."+c.op {
			t.Errorf("%s: message %q does not start with %q (Op %q)", c.op, msg, want, se.Op)
		}
		for _, s := range c.shapes {
			if !strings.Contains(msg, s) {
				t.Errorf("%s: message %q does not name shape %s", c.op, msg, s)
			}
		}
		if len(se.Shapes) != len(c.shapes) {
			t.Errorf("%s: Shapes field %v, want %d shapes", c.op, se.Shapes, len(c.shapes))
		}
	}
	// The exact wording of the two examples in the API contract.
	se := mustPanicShape(t, "Add", func() { Add(a23, a43) })
	if se.Error() != "tensor.Add: shapes [2 3] and [4 3]: cannot broadcast" {
		t.Errorf("Add message %q", se.Error())
	}
	se = mustPanicShape(t, "MatMul", func() { MatMul(a23, Zeros(4, 5)) })
	if se.Error() != "tensor.MatMul: shapes [2 3] and [4 5]: inner dimensions 3 and 4 differ" {
		t.Errorf("MatMul message %q", se.Error())
	}
	_, err := BroadcastShapes([]int{2, 3}, []int{4, 3})
	var be *ShapeError
	if !errors.As(err, &be) || be.Op != "tensor.BroadcastShapes" || !strings.Contains(err.Error(), "[2 3] and [4 3]") {
		t.Errorf("BroadcastShapes error %v", err)
	}
}

func TestCatch(t *testing.T) {
	err := Catch(func() { Add(Zeros(2), Zeros(3)) })
	var se *ShapeError
	if !errors.As(err, &se) || se.Op != "tensor.Add" {
		t.Fatalf("Catch returned %v", err)
	}
	if err := Catch(func() { Add(Zeros(2), Zeros(2)) }); err != nil {
		t.Fatalf("Catch of a valid op returned %v", err)
	}
	// Other panics pass through unchanged.
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the original panic", r)
		}
	}()
	_ = Catch(func() { panic("boom") })
	t.Fatalf("Catch swallowed a foreign panic")
}
