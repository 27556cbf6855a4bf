//go:build !unix

package nets

import "time"

// Without /proc and getrusage, steps cannot be gated: every step counts as
// quiet.
type foreignMeter struct{}

func startForeign() foreignMeter       { return foreignMeter{} }
func (foreignMeter) cores() float64    { return 0 }
func waitQuiet(float64, time.Duration) {}
