package nets

import (
	"os"
	"testing"

	"github.com/vmdls-go/vmdls/tensor/memtune"
)

// TestMain runs the benchmarks under the runtime settings `vmdls` runs
// under (lazy page return, the collector paced for tensor heaps), so the
// twins measure what the binary does.
func TestMain(m *testing.M) {
	memtune.Apply()
	os.Exit(m.Run())
}
