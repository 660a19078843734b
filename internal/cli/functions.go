package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
)

func runList(ctx context.Context, e *env, args []string) error {
	if _, err := e.parse(e.newFlagSet("ls"), args, 0, 0); err != nil {
		return err
	}
	c, closeConn, err := e.client()
	if err != nil {
		return err
	}
	defer closeConn()
	fns, err := c.List(ctx)
	if err != nil {
		return err
	}
	if e.global.json {
		return e.printJSON(fns)
	}
	e.printList(fns)
	return nil
}

func runInfo(ctx context.Context, e *env, args []string) error {
	name, err := e.parseName(e.newFlagSet("info"), args)
	if err != nil {
		return err
	}
	c, closeConn, err := e.client()
	if err != nil {
		return err
	}
	defer closeConn()
	info, err := c.Info(ctx, name)
	if err != nil {
		return err
	}
	consumers := e.consumerStates(ctx, info.Spec)
	if e.global.json {
		return e.printJSON(struct {
			*api.FunctionInfo
			Consumers []consumerState `json:"consumers,omitempty"`
		}{info, consumers})
	}
	e.printInfo(info)
	e.printConsumerStates(consumers)
	return nil
}

func runRemove(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("rm")
	var purge bool
	fs.BoolVar(&purge, "purge", false, "delete the function's KV bucket and object store too (or those a function of this name removed earlier left)")
	name, err := e.parseName(fs, args)
	if err != nil {
		return err
	}
	c, closeConn, err := e.client()
	if err != nil {
		return err
	}
	defer closeConn()
	var opts []client.RemoveOption
	if purge {
		opts = append(opts, client.Purge())
	}
	removed, err := c.Remove(ctx, name, opts...)
	if err != nil {
		return err
	}
	if e.global.json {
		return e.printJSON(removed)
	}
	fmt.Fprintln(e.stdout, removeSummary(removed))
	return nil
}

// removeSummary is the line rm prints: what was removed, and what became of
// the data.
func removeSummary(r *api.Removed) string {
	fn := r.Spec.Namespace + "/" + r.Spec.Name
	data := strings.Join(r.Purged, ", ")
	switch {
	case r.BundleDigest == "": // only the data a removed function left
		return fmt.Sprintf("deleted the data function %s left: %s", fn, data)
	case len(r.Purged) > 0:
		return fmt.Sprintf("removed %s and its data: %s", fn, data)
	case len(r.Kept) > 0:
		return fmt.Sprintf("removed %s; kept its data (%s): `natsfn rm %s --purge` deletes it, and a new deploy of %s starts empty unless --keep-data",
			fn, strings.Join(r.Kept, ", "), r.Spec.Name, r.Spec.Name)
	}
	return fmt.Sprintf("removed %s (it had no data)", fn)
}

// parseName parses a command whose one argument is a function name.
func (e *env) parseName(fs *flagSet, args []string) (string, error) {
	pos, err := e.parse(fs, args, 1, 1)
	if err != nil {
		return "", err
	}
	if err := api.ValidateName("name", pos[0]); err != nil {
		return "", usageErrorf("%v", err)
	}
	return pos[0], nil
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}
