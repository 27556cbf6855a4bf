package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// exitNow ends the process at a second interrupt; tests replace it.
var exitNow = os.Exit

// interruptible returns a context that the first SIGINT or SIGTERM
// cancels, so that training can finish its step and write a checkpoint;
// a second signal exits at once with status 130. stop releases the
// signals (call it when the work is over).
func interruptible(parent context.Context, stderr io.Writer, what string) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
		case <-done:
			return
		}
		fmt.Fprintf(stderr, "\nvmdls: interrupted: %s (interrupt again to quit at once)\n", what)
		cancel()
		select {
		case <-ch:
			fmt.Fprintln(stderr, "vmdls: interrupted again: quitting now")
			exitNow(130)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}
