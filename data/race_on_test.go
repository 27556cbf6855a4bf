//go:build race

package data

// raceEnabled is true under -race, where the real-data tests (single-
// threaded gunzip and parsing of hundreds of megabytes, ten times slower
// when instrumented) are skipped; the plain run covers them and the
// concurrent code is raced on synthetic data.
const raceEnabled = true
