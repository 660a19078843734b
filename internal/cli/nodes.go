package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/natsfn/natsfn/internal/version"
)

// runNodes lists the nodes of the NATS system: the administrator's command.
func runNodes(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "drain" {
		return runNodesDrain(ctx, e, args[1:])
	}
	fs := e.newFlagSet("nodes")
	if _, err := e.parse(fs, args, 0, 0); err != nil {
		return err
	}
	admin, closeConn, err := e.admin()
	if err != nil {
		return err
	}
	defer closeConn()
	nodes, err := admin.Nodes(ctx)
	if err != nil {
		return err
	}
	if e.global.json {
		return e.printJSON(nodes)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tUP\tSERVER\tSANDBOX\tNAMESPACES\tFUNCTIONS\tWORKERS\tCALLS\tERRORS")
	for _, n := range nodes {
		name := printable(n.Name)
		if n.Draining {
			name += " (draining)"
		}
		server := printable(n.Server)
		if n.Embedded {
			server += " (embedded)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", name, printable(n.Version),
			time.Since(n.Started).Round(time.Second), server, printable(n.Sandbox),
			n.Namespaces, n.Functions, n.Workers, n.Calls, n.Errors)
	}
	return tw.Flush()
}

// runVersion prints natsfn's version: one line, or JSON.
func runVersion(_ context.Context, e *env, args []string) error {
	fs := e.newFlagSet("version")
	if _, err := e.parse(fs, args, 0, 0); err != nil {
		return err
	}
	v := version.Get()
	if e.global.json {
		return e.printJSON(v)
	}
	_, err := fmt.Fprintln(e.stdout, v)
	return err
}
