package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"
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
	fmt.Fprintln(tw, "NAME\tSERVER\tUP\tSANDBOX\tNAMESPACES\tFUNCTIONS")
	for _, n := range nodes {
		server := printable(n.Server)
		if n.Embedded {
			server += " (embedded)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", printable(n.Name), server,
			time.Since(n.Started).Round(time.Second), printable(n.Sandbox), n.Namespaces, n.Functions)
	}
	return tw.Flush()
}
