//go:build race

package parallel

// raceEnabled is true when the race detector, which allocates, is on.
const raceEnabled = true
