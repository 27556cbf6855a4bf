package ovd

import "testing"

// TestAETakesImageShapes checks which autoencoder kinds a detector file
// may pair with its images: the ResNet-50 one (CIFAR-100's) as well as the
// ResNet-18 one takes 3×32×32, only mnist's takes 1×28×28.
func TestAETakesImageShapes(t *testing.T) {
	for _, c := range []struct {
		kind    string
		c, h, w int
		want    bool
	}{
		{"mnist", 1, 28, 28, true},
		{"mnist", 3, 32, 32, false},
		{"resnet18", 3, 32, 32, true},
		{"resnet50", 3, 32, 32, true},
		{"resnet50", 1, 28, 28, false},
		{"resnet18", 3, 64, 64, false},
		{"vgg", 3, 32, 32, false},
	} {
		if got := aeTakes(c.kind, c.c, c.h, c.w); got != c.want {
			t.Errorf("aeTakes(%q, %d×%d×%d) = %v, want %v", c.kind, c.c, c.h, c.w, got, c.want)
		}
	}
}
