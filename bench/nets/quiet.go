//go:build unix

package nets

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The machines benchmarks run on are shared: other processes take cores
// while a step runs, and a step so disturbed says little about the engine.
// As ../shared/anchors/quiet.py does for PyTorch, a step can be gated: the
// CPU time used by other processes during it (all busy time of the machine
// minus this process's) is measured, and steps that saw too much of it are
// discarded and retried.

// busySeconds returns the machine's busy CPU time so far (all CPUs, idle
// and iowait excluded) from /proc/stat; ok is false where there is none.
func busySeconds() (s float64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var total, idle float64
	for i, x := range f[1:9] { // user nice system idle iowait irq softirq steal
		v, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, false
		}
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	return (total - idle) / clockTicks, true
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// ownSeconds returns this process's user+system CPU time.
func ownSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// foreignMeter measures the cores other processes used over an interval.
type foreignMeter struct {
	busy, own float64
	t0        time.Time
	ok        bool
}

func startForeign() foreignMeter {
	b, ok := busySeconds()
	return foreignMeter{busy: b, own: ownSeconds(), t0: time.Now(), ok: ok}
}

// cores returns the average number of cores other processes used since the
// meter started (0 where /proc/stat is unavailable).
func (m foreignMeter) cores() float64 {
	b, ok := busySeconds()
	if !ok || !m.ok {
		return 0
	}
	dt := max(time.Since(m.t0).Seconds(), 1e-9)
	return max(0, ((b-m.busy)-(ownSeconds()-m.own))/dt)
}

// waitQuiet waits, in 1-second looks, until other processes use fewer than
// thresh cores or maxWait has passed.
func waitQuiet(thresh float64, maxWait time.Duration) {
	deadline := time.Now().Add(maxWait)
	for {
		m := startForeign()
		time.Sleep(time.Second)
		if m.cores() < thresh || time.Now().After(deadline) {
			return
		}
	}
}
