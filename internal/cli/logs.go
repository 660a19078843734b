package cli

import (
	"context"
)

// defaultLast is how many past entries `logs` shows by default.
const defaultLast = 100

func runLogs(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("logs")
	var (
		follow bool
		last   int
	)
	fs.BoolVar(&follow, "follow", false, "keep showing new entries until interrupted")
	fs.alias("f", "follow")
	fs.IntVar(&last, "last", defaultLast, "show the last `N` entries kept (-1: all of them)")
	name, err := e.parseName(fs, args)
	if err != nil {
		return err
	}
	if last < -1 {
		return usageErrorf("--last must be -1 or more")
	}
	c, closeConn, err := e.client()
	if err != nil {
		return err
	}
	defer closeConn()
	return c.Logs(ctx, name, follow, last, e.printLogEntry)
}
