package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
)

func runVersions(ctx context.Context, e *env, args []string) error {
	name, err := e.parseName(e.newFlagSet("versions"), args)
	if err != nil {
		return err
	}
	c, closeConn, err := e.client()
	if err != nil {
		return err
	}
	defer closeConn()
	versions, err := c.Versions(ctx, name)
	if err != nil {
		return err
	}
	if e.global.json {
		return e.printJSON(versions)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tDEPLOYED\tSIZE\tDIGEST\tTRIGGERS\t")
	for i, v := range versions {
		var note string
		switch {
		case i == 0 && v.RollbackOf != 0:
			note = fmt.Sprintf("current, rollback to %d", v.RollbackOf)
		case i == 0:
			note = "current"
		case v.RollbackOf != 0:
			note = fmt.Sprintf("rollback to %d", v.RollbackOf)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", v.Version, timestamp(v.DeployedAt), formatBytes(v.BundleSize),
			shortDigest(v.BundleDigest), printable(triggerSummary(v.Spec)), note)
	}
	return tw.Flush()
}

func runRollback(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("rollback")
	var (
		to    string
		force bool
	)
	fs.StringVar(&to, "to", "", "the `VERSION` to go back to (default: the one before the current)")
	fs.BoolVar(&force, "force", false, "roll back even though another function of the namespace now serves an overlapping subject")
	name, err := e.parseName(fs, args)
	if err != nil {
		return err
	}
	var version uint64
	if to != "" {
		if version, err = strconv.ParseUint(to, 10, 64); err != nil || version == 0 {
			return usageErrorf("--to %q: want a version number, as `natsfn versions %s` lists them", to, name)
		}
	}
	c, closeConn, err := e.client()
	if err != nil {
		return err
	}
	defer closeConn()
	opts := []client.DeployOption{client.OnWarning(func(msg string) {
		fmt.Fprintf(e.stderr, "natsfn: warning: %s\n", oneLine(msg))
	})}
	if force {
		opts = append(opts, client.Force())
	}
	ctx, cancel := context.WithTimeout(ctx, deployTimeout)
	defer cancel()
	info, err := c.Rollback(ctx, name, version, opts...)
	if err != nil {
		return err
	}
	if e.global.json {
		return e.printJSON(info)
	}
	fmt.Fprintln(e.stdout, deploySummary(info))
	return nil
}

// versionsKept is how the docs and help say how far back a rollback goes.
var versionsKept = fmt.Sprintf("the last %d versions are kept", api.KeptVersions)
