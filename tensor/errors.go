package tensor

import (
	"fmt"
	"strings"
)

// ShapeError is what every tensor op panics with when it is misused:
// incompatible shapes, a bad axis, a wrong data length, an index out of
// range, or tensors on different devices. Panicking (as gonum's mat does)
// keeps the arithmetic readable; Catch turns the panic back into an error
// where a caller wants one.
type ShapeError struct {
	Op     string  // the op, as "tensor.<Op>"
	Shapes [][]int // every shape involved, in argument order
	Detail string  // what is wrong
}

// Error names the op, every shape and the problem, e.g.
// "tensor.Add: shapes [2 3] and [4 3]: cannot broadcast".
func (e *ShapeError) Error() string {
	var sb strings.Builder
	sb.WriteString(e.Op)
	if len(e.Shapes) > 0 {
		if len(e.Shapes) == 1 {
			sb.WriteString(": shape ")
		} else {
			sb.WriteString(": shapes ")
		}
		for i, s := range e.Shapes {
			if i > 0 {
				if i == len(e.Shapes)-1 {
					sb.WriteString(" and ")
				} else {
					sb.WriteString(", ")
				}
			}
			fmt.Fprint(&sb, s)
		}
	}
	if e.Detail != "" {
		sb.WriteString(": ")
		sb.WriteString(e.Detail)
	}
	return sb.String()
}

// Catch runs fn and returns the *ShapeError it panicked with, or nil if it
// returned normally. Any other panic is propagated unchanged, so programming
// errors unrelated to shapes are not swallowed.
func Catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if se, ok := r.(*ShapeError); ok {
				err = se
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}

// fail panics with a *ShapeError; shapes are copied so that later changes
// by the caller do not alter the message.
func fail(op, detail string, shapes ...[]int) {
	cp := make([][]int, len(shapes))
	for i, s := range shapes {
		cp[i] = append([]int{}, s...)
	}
	panic(&ShapeError{Op: op, Shapes: cp, Detail: detail})
}

func failf(op string, shapes [][]int, format string, args ...any) {
	fail(op, fmt.Sprintf(format, args...), shapes...)
}

// sameDevice returns the common device of ts or panics naming both devices
// and the shapes.
func sameDevice(op string, ts ...*Tensor) Device {
	d := ts[0].dev
	for _, t := range ts[1:] {
		if t.dev != d {
			shapes := make([][]int, len(ts))
			for i, u := range ts {
				shapes[i] = u.shape
			}
			failf(op, shapes, "tensors on different devices %v and %v", d, t.dev)
		}
	}
	return d
}

// normAxis maps a possibly negative axis into [0, ndim) or panics.
func normAxis(op string, axis, ndim int, shape []int) int {
	a := axis
	if a < 0 {
		a += ndim
	}
	if a < 0 || a >= ndim {
		failf(op, [][]int{shape}, "axis %d out of range for %d dimensions", axis, ndim)
	}
	return a
}
