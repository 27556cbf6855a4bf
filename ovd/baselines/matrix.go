package baselines

import (
	"fmt"
	"math"
)

// Matrix is Rows feature vectors of Cols values each, row-major in Data.
type Matrix struct {
	Rows, Cols int
	Data       []float64
}

// Row returns row i.
func (m Matrix) Row(i int) []float64 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Columns returns the columns [lo, hi) of m as a new matrix: one layer's
// slice of a feature ensemble.
func (m Matrix) Columns(lo, hi int) Matrix {
	out := Matrix{Rows: m.Rows, Cols: hi - lo, Data: make([]float64, m.Rows*(hi-lo))}
	for i := range m.Rows {
		copy(out.Row(i), m.Row(i)[lo:hi])
	}
	return out
}

func (m Matrix) check(what string) error {
	if m.Rows < 0 || m.Cols < 1 || len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("baselines: %s: %d×%d matrix with %d values", what, m.Rows, m.Cols, len(m.Data))
	}
	for i, v := range m.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("baselines: %s: value %v at row %d", what, v, i/m.Cols)
		}
	}
	return nil
}
