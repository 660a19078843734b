package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/natsfn/natsfn/api"
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
	if e.global.json {
		return e.printJSON(info)
	}
	e.printInfo(info)
	return nil
}

func runRemove(ctx context.Context, e *env, args []string) error {
	name, err := e.parseName(e.newFlagSet("rm"), args)
	if err != nil {
		return err
	}
	c, closeConn, err := e.client()
	if err != nil {
		return err
	}
	defer closeConn()
	info, err := c.Remove(ctx, name)
	if err != nil {
		return err
	}
	if e.global.json {
		return e.printJSON(info)
	}
	fmt.Fprintf(e.stdout, "removed %s/%s\n", info.Spec.Namespace, info.Spec.Name)
	return nil
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
