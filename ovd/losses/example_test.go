package losses_test

import (
	"fmt"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/ovd/losses"
	"github.com/vmdls-go/vmdls/tensor"
)

// A batch of four latents in two classes. The rows are L2-normalized first,
// so only directions count: class 0 points along x, class 1 along y, and
// one class-1 row lies between them. With margin 0.1 the triplet term is
// active only for the two triplets anchored at that row; the distancing
// term, with negMargin 1.5, also asks every negative pair to be at least
// 1.5 apart, more than even orthogonal unit vectors are (√2 ≈ 1.414), so
// every triplet then contributes.
func ExampleTripletDistancing() {
	z := autograd.Param(tensor.FromSlice([]float32{
		1, 0, // class 0
		2, 0.1, // class 0
		0, 1, // class 1
		1, 1, // class 1, between the two
	}, 4, 2))
	labels := []int{0, 0, 1, 1}

	loss, st := losses.TripletDistancing(z, labels, 0.1, 0)
	fmt.Printf("margin only: loss %.4f, %d of %d triplets active\n", loss.Value().Item(), st.Positive, st.Triplets)

	loss, st = losses.TripletDistancing(z, labels, 0.1, 1.5)
	fmt.Printf("with distancing: loss %.4f, %d of %d triplets active\n", loss.Value().Item(), st.Positive, st.Triplets)

	if err := loss.Backward(); err != nil {
		panic(err)
	}
	fmt.Println("gradient", z.Grad().Shape())
	// Output:
	// margin only: loss 0.1232, 2 of 8 triplets active
	// with distancing: loss 0.4615, 8 of 8 triplets active
	// gradient [4 2]
}
