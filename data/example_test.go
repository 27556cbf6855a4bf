package data_test

import (
	"fmt"

	"github.com/vmdls-go/vmdls/data"
)

// The balanced training sampler of the reference: each batch holds
// batch_classes distinct classes with sample_count images each. The seed
// fixes every batch.
func ExampleNewBalancedSampler() {
	labels := []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2} // 4 images per class
	s, err := data.NewBalancedSampler(labels, 2, 2, 42)
	if err != nil {
		panic(err)
	}
	first := s.Epoch()
	for _, batch := range first {
		classes := make([]int, len(batch))
		for i, idx := range batch {
			classes[i] = labels[idx]
		}
		fmt.Println(len(batch), "images, classes", classes)
	}
	again, err := data.NewBalancedSampler(labels, 2, 2, 42)
	if err != nil {
		panic(err)
	}
	fmt.Println("same seed, same batches:", fmt.Sprint(again.Epoch()) == fmt.Sprint(first))
	// Output:
	// 4 images, classes [1 1 0 0]
	// 4 images, classes [1 1 2 2]
	// same seed, same batches: true
}
