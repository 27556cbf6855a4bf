package memtune

import (
	"os"
	"syscall"
)

// restartable: Linux's runtime returns pages with MADV_DONTNEED unless
// GODEBUG says otherwise, and the process can exec itself.
const restartable = true

// restart replaces the process with itself under env. /proc/self/exe is
// the running image even if its file was replaced since.
func restart(env []string) {
	_ = syscall.Exec("/proc/self/exe", os.Args, env)
}
