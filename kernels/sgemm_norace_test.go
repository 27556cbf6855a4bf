//go:build !race

package kernels

// raceEnabled is true when the race detector, which allocates, is on.
const raceEnabled = false
