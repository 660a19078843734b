package cli

import (
	"context"
	"fmt"
	"time"
)

// runNodesDrain drains a node: it stops taking calls and control
// requests, finishes those in flight and leaves. By default the command
// waits until the node has gone.
func runNodesDrain(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("nodes")
	wait := fs.Bool("wait", true, "wait until the node has drained and left; --wait=false returns once the drain has begun")
	timeout := fs.Duration("timeout", 0, "with --wait: give up waiting after `DURATION` (default: as long as the node says its drain may take)")
	pos, err := e.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *timeout < 0 {
		return usageErrorf("--timeout must not be negative")
	}
	admin, closeConn, err := e.admin()
	if err != nil {
		return err
	}
	defer closeConn()
	drain, err := admin.DrainNode(ctx, pos[0])
	if err != nil {
		return err
	}
	defer drain.Stop()
	if !*wait {
		if e.global.json {
			return e.printJSON(drain.Info)
		}
		fmt.Fprintf(e.stdout, "node %s is draining (%d functions); it leaves within %s\n", printable(drain.Info.Name), drain.Info.Functions, drain.Info.Within.D())
		return nil
	}
	if !e.global.json {
		fmt.Fprintf(e.stdout, "node %s is draining (%d functions); waiting up to %s for it to leave\n", printable(drain.Info.Name), drain.Info.Functions, drain.Info.Within.D())
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	done, err := drain.Wait(ctx)
	if err != nil {
		return err
	}
	if e.global.json {
		return e.printJSON(done)
	}
	fmt.Fprintf(e.stdout, "node %s drained in %s and left\n", printable(done.Name), done.Took.D().Round(time.Millisecond))
	return nil
}
