// Package toymnist writes a small MNIST-format dataset for tests and
// examples that must train a model in seconds: ten classes of 28x28 images
// that differ in brightness, in MNIST's four IDX files. It is test support
// (only tests and examples import it) and imports the standard library only.
package toymnist

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Write writes train training and test test images under dir/mnist, the
// layout the named dataset "mnist" reads, with labels cycling 0..9.
func Write(dir string, train, test int) error {
	if err := os.MkdirAll(filepath.Join(dir, "mnist"), 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, split := range []struct {
		prefix string
		n      int
	}{{"train", train}, {"t10k", test}} {
		prefix, n := split.prefix, split.n
		img := binary.BigEndian.AppendUint32([]byte{0, 0, 8, 3}, uint32(n))
		img = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(img, 28), 28)
		lab := binary.BigEndian.AppendUint32([]byte{0, 0, 8, 1}, uint32(n))
		for i := range n {
			lab = append(lab, byte(i%10))
			for range 28 * 28 {
				img = append(img, byte(i%10*20+rng.IntN(40)))
			}
		}
		for name, b := range map[string][]byte{prefix + "-images-idx3-ubyte": img, prefix + "-labels-idx1-ubyte": lab} {
			if err := os.WriteFile(filepath.Join(dir, "mnist", name), b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
