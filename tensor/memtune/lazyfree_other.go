//go:build !linux

package memtune

// restartable: elsewhere the runtime's default already suits (or the
// setting does not exist), so there is nothing to restart for.
const restartable = false

func restart([]string) {}
