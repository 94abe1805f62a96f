// Command accrue runs accrue's stages and tools. main only parses the
// command line and starts what it names; the work lives in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRoot().ExecuteContext(ctx)
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "accrue:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "accrue:", err)
		os.Exit(1)
	}
}

// usageError marks errors in what the user asked for (exit status 2), as
// opposed to failures while doing it (exit status 1).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
