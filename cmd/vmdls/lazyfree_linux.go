package main

import (
	"os"
	"strings"
	"syscall"
)

// startWithLazyFree replaces the process with itself started under
// GODEBUG=madvdontneed=0 (see lazyfree.go), unless GODEBUG already says how
// to return pages. It returns only when that is so or the exec failed; the
// process then goes on with the runtime's default.
func startWithLazyFree() {
	v, change := lazyFreeGODEBUG(os.Getenv("GODEBUG"))
	if !change {
		return
	}
	env := []string{"GODEBUG=" + v}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	// /proc/self/exe is the running image even if its file was replaced.
	_ = syscall.Exec("/proc/self/exe", os.Args, env)
}
