package ovd

import (
	"testing"

	"github.com/vmdls-go/vmdls/torchfile"
)

func TestAEKind(t *testing.T) {
	ae := func(fc ...int) []torchfile.TensorInfo {
		return []torchfile.TensorInfo{{Name: "encoder.0.weight"}, {Name: "decoder.0.weight"}, {Name: "fc.weight", Shape: fc}}
	}
	for _, tc := range []struct {
		want string
		ts   []torchfile.TensorInfo
		ask  string
	}{
		{"mnist", ae(32, 500), "auto"},
		{"resnet18", ae(256, 512), "auto"},
		{"resnet50", ae(256, 2048), "auto"},
		{"resnet50", ae(32, 500), "resnet50"},
		{"", ae(10, 500), "auto"},
		{"", ae(32, 500), "none"},
		{"resnet18", ae(32, 500), "resnet18"},
		{"", []torchfile.TensorInfo{{Name: "fc.weight", Shape: []int{32, 500}}}, "auto"},
	} {
		if got := aeKindToRecord(tc.ask, tc.ts); got != tc.want {
			t.Errorf("aeKindToRecord(%s, fc %v) = %q, want %q", tc.ask, tc.ts[len(tc.ts)-1].Shape, got, tc.want)
		}
	}
}
