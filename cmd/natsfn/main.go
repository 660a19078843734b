// Command natsfn is the natsfn CLI and node daemon; see `natsfn --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/natsfn/natsfn/internal/cli"
	"github.com/natsfn/natsfn/internal/worker"
)

func main() {
	// The node starts workers from this same binary.
	if worker.IsWorker() {
		os.Exit(worker.Main(worker.EnterSandbox))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal ends ctx: `up` drains. A second one ends the
	// process at once, for a drain that takes too long.
	context.AfterFunc(ctx, stop)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
