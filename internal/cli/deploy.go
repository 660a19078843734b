package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/bundle"
)

// deployTimeout bounds a deploy: staging, the node's compile check and
// storing. Bundles go up to 10 MiB.
const deployTimeout = time.Minute

func runDeploy(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("deploy")
	var (
		f        specFlags
		keepData bool
	)
	f.add(fs, true)
	fs.BoolVar(&keepData, "keep-data", false, "a new function keeps the KV bucket and object store a removed function of its name left (default: it starts empty)")
	pos, err := e.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	file := pos[0]
	spec, err := f.spec(e.global.namespace, file)
	if err != nil {
		return err
	}
	b, err := build(file)
	if err != nil {
		return err
	}
	c, closeConn, err := e.client()
	if err != nil {
		return err
	}
	defer closeConn()
	var opts []client.DeployOption
	if keepData {
		opts = append(opts, client.KeepData())
	}
	info, err := deploy(ctx, c, spec, b, opts...)
	if err != nil {
		return err
	}
	if e.global.json {
		return e.printJSON(info)
	}
	fmt.Fprintln(e.stdout, deploySummary(info))
	return nil
}

// build bundles file, with an error that names it once.
func build(file string) (*bundle.Bundle, error) {
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("%s: %w", file, unwrapPath(err))
	}
	b, err := bundle.Build(file)
	if err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "bundle: "))
	}
	return b, nil
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func deploy(ctx context.Context, c *client.Client, spec api.FunctionSpec, b *bundle.Bundle, opts ...client.DeployOption) (*api.FunctionInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, deployTimeout)
	defer cancel()
	return c.Deploy(ctx, spec, []byte(b.Script), opts...)
}

// deploySummary is the one line a deploy prints.
func deploySummary(info *api.FunctionInfo) string {
	return fmt.Sprintf("deployed %s/%s (revision %d, %s, %s) on %s",
		info.Spec.Namespace, info.Spec.Name, info.Revision, formatBytes(info.BundleSize),
		shortDigest(info.BundleDigest), printable(strings.Join(info.Spec.Triggers, ", ")))
}

// shortDigest keeps enough of a digest to tell versions apart.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}
