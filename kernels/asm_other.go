//go:build !amd64 || purego

package kernels

// assemblyBuilt is false: this build has only the pure-Go kernels, so
// dispatch never chooses an assembly path whatever the CPU supports.
const assemblyBuilt = false
