package cli

import (
	"context"
	"errors"
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

// deployFlags are deploy's flags.
type deployFlags struct {
	spec     specFlags
	config   string
	keepData bool
	reset    bool
	force    bool
}

func (e *env) deployFlagSet(d *deployFlags) *flagSet {
	fs := e.newFlagSet("deploy")
	d.spec.add(fs, true)
	fs.StringVar(&d.config, "config", "", "the config `FILE` that holds the flags (default: "+configName+" beside the function)")
	fs.BoolVar(&d.keepData, "keep-data", false, "a new function keeps the KV bucket and object store a removed function of its name left (default: it starts empty)")
	fs.BoolVar(&d.reset, "reset", false, "a redeploy without a config file starts from the defaults instead of keeping the deployed settings no flag gives")
	fs.BoolVar(&d.force, "force", false, "deploy even though another function of the namespace serves an overlapping subject (both then get its messages)")
	return fs
}

// deployTarget is one function a deploy bundles and deploys.
type deployTarget struct {
	file  string
	entry *configEntry // nil without a config file for it
}

func runDeploy(ctx context.Context, e *env, args []string) error {
	var d deployFlags
	pos, err := e.parse(e.deployFlagSet(&d), args, 0, 1)
	if err != nil {
		return err
	}
	given := setFlags(e.flags)
	targets, err := deployTargets(d, pos)
	if err != nil {
		return err
	}
	// Every function is checked and built before anything is sent.
	type job struct {
		deployTarget
		spec   api.FunctionSpec
		bundle *bundle.Bundle
	}
	var jobs []job
	for _, t := range targets {
		// Each function starts from the command line anew.
		var f deployFlags
		fs := e.deployFlagSet(&f)
		if _, err := e.parse(fs, args, 0, 1); err != nil {
			return err
		}
		if t.entry != nil {
			if err := t.entry.apply(fs, given); err != nil {
				return err
			}
		}
		spec, err := f.spec.build(e.global.namespace, t.file)
		if err != nil {
			return err
		}
		if err := precheckSpec(spec, t.entry == nil && !d.reset); err != nil {
			return err
		}
		b, err := build(t.file)
		if err != nil {
			return err
		}
		jobs = append(jobs, job{t, spec, b})
	}

	c, closeConn, err := e.client()
	if err != nil {
		return err
	}
	defer closeConn()
	opts := []client.DeployOption{client.OnWarning(func(msg string) {
		fmt.Fprintf(e.stderr, "natsfn: warning: %s\n", oneLine(msg))
	})}
	if d.keepData {
		opts = append(opts, client.KeepData())
	}
	if d.force {
		opts = append(opts, client.Force())
	}
	var infos []*api.FunctionInfo
	for _, j := range jobs {
		var kept string
		if j.entry == nil && !d.reset {
			// Without a config file, a redeploy keeps what no flag says.
			if kept, err = keepDeployed(ctx, c, &j.spec, given); err != nil {
				return err
			}
		}
		info, err := deploy(ctx, c, j.spec, j.bundle, opts...)
		if err != nil {
			if len(jobs) > 1 {
				return fmt.Errorf("%s: %w", j.spec.Name, err)
			}
			return err
		}
		infos = append(infos, info)
		if e.global.json {
			continue
		}
		if kept != "" {
			fmt.Fprintln(e.stdout, kept)
		}
		fmt.Fprintln(e.stdout, deploySummary(info))
	}
	switch {
	case !e.global.json:
		return nil
	case len(pos) == 1:
		return e.printJSON(infos[0])
	}
	return e.printJSON(infos)
}

// deployTargets are the functions a deploy is about: FILE, with its entry
// in the config file if it has one; without FILE, every function of the
// config file (or the one --name names).
func deployTargets(d deployFlags, pos []string) ([]deployTarget, error) {
	if len(pos) == 1 {
		file := pos[0]
		entry, err := configOf(d.config, file, d.spec.name)
		return []deployTarget{{file: file, entry: entry}}, err
	}
	cfg, err := loadConfig(d.config, ".")
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, usageErrorf("deploy needs FILE, or a %s in this directory (or --config FILE)", configName)
	}
	var targets []deployTarget
	for i := range cfg.functions {
		entry := &cfg.functions[i]
		if name := d.spec.name; name != "" && entry.name != "" && entry.name != name {
			continue
		}
		if entry.file == "" {
			return nil, usageErrorf("%s names no file: give FILE, or \"file\" in it", cfg.path)
		}
		targets = append(targets, deployTarget{file: entry.file, entry: entry})
	}
	if len(targets) == 0 {
		return nil, usageErrorf("%s has no function %s", cfg.path, d.spec.name)
	}
	return targets, nil
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
	var pe *os.PathError
	if errors.As(err, &pe) {
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
	what := fmt.Sprintf("version %d", info.Version)
	if info.RollbackOf != 0 {
		what += fmt.Sprintf(", the code and settings of version %d", info.RollbackOf)
	}
	return fmt.Sprintf("deployed %s/%s (%s, revision %d, %s, %s) on %s",
		info.Spec.Namespace, info.Spec.Name, what, info.Revision, formatBytes(info.BundleSize),
		shortDigest(info.BundleDigest), printable(triggerSummary(info.Spec)))
}

// triggerSummary names a spec's triggers in a few words.
func triggerSummary(s api.FunctionSpec) string {
	parts := append([]string(nil), s.Triggers...)
	if s.Stream != nil {
		parts = append(parts, "stream "+s.Stream.Stream)
	}
	if s.Schedule != nil {
		parts = append(parts, "schedule "+s.Schedule.Cron)
	}
	if s.Watch != nil {
		bucket := s.Watch.Bucket
		if bucket == "" {
			bucket = "its own bucket"
		}
		parts = append(parts, "watch "+bucket)
	}
	return strings.Join(parts, ", ")
}

// shortDigest keeps enough of a digest to tell versions apart.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}
