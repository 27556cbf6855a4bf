//go:build unix

package nets

import (
	"runtime"
	"testing"
	"time"
)

func TestForeignMeter(t *testing.T) {
	if _, ok := busySeconds(); !ok {
		t.Skip("no /proc/stat")
	}
	m := startForeign()
	// Busy work of this process's own is not foreign load.
	deadline := time.Now().Add(200 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	if c := m.cores(); c < 0 || c > float64(runtime.NumCPU()) {
		t.Errorf("foreign load %v cores on a %d-CPU machine", c, runtime.NumCPU())
	}
	if ownSeconds() <= 0 {
		t.Error("no CPU time of our own")
	}
}
