package parallel_test

import (
	"fmt"

	"github.com/vmdls-go/vmdls/parallel"
)

// For splits a range over the shared worker pool; fn gets disjoint
// chunks, so writing its own part of a slice needs no locking.
func ExampleFor() {
	out := make([]int, 1000)
	parallel.For(len(out), 100, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = i * i
		}
	})
	fmt.Println(out[999])
	// Output:
	// 998001
}
