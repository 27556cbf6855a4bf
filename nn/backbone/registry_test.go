package backbone

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// TestRegistryInfo checks the registry's description of each encoder
// against the network it builds: the output width NewEncoder reports and
// the image shape it takes.
func TestRegistryInfo(t *testing.T) {
	want := map[string][]int{"mnist-conv": {1, 28, 28}, "vgg": {3, 32, 32}, "resnet18": {3, 32, 32}, "densenet": {3, 32, 32}, "wresnet": {3, 32, 32},
		"resnet50": {3, 32, 32}, "mnist": {1, 28, 28}, "cifar": {3, 32, 32}}
	infos := Encoders()
	if len(infos) != len(EncTypes()) {
		t.Fatalf("%d entries for %d encoder types", len(infos), len(EncTypes()))
	}
	for i, name := range EncTypes() {
		e, ok := LookupEncoder(name)
		if !ok || e != infos[i] || e.Name != name {
			t.Fatalf("LookupEncoder(%q) = %+v, %v; Encoders()[%d] = %+v", name, e, ok, i, infos[i])
		}
		if !slices.Equal(e.InputShape(), want[name]) {
			t.Errorf("%s takes %v, want %v", name, e.InputShape(), want[name])
		}
		m, outDim, err := NewEncoder(name, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		tm, tapped := m.(Tapped)
		if tapped != e.Taps {
			t.Errorf("%s: registry Taps %v, the network is Tapped: %v", name, e.Taps, tapped)
		}
		if outDim != e.OutDim || tapped && tm.OutDim() != e.OutDim {
			t.Errorf("%s: registry OutDim %d, NewEncoder %d", name, e.OutDim, outDim)
		}
		// The output width of an actual forward pass.
		nn.SetTraining(m, false)
		if h := m.Forward(autograd.Const(tensor.Zeros(append([]int{1}, e.InputShape()...)...))); h.Shape()[1] != e.OutDim {
			t.Errorf("%s: h has width %d, the registry says %d", name, h.Shape()[1], e.OutDim)
		}
	}
	if _, ok := LookupEncoder("resnet101"); ok {
		t.Error("LookupEncoder found an encoder that is not registered")
	}
}
