//go:build amd64 && !purego

package kernels

// assemblyBuilt reports whether this build holds the assembly kernels: on
// amd64 unless the purego tag (the convention of gonum, klauspost and
// x/crypto) asks for pure Go only.
const assemblyBuilt = true
