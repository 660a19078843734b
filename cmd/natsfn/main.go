// Command natsfn is the natsfn CLI and node daemon; see `natsfn --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/natsfn/natsfn/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
