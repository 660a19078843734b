package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/node"
)

// debounce lets an editor finish writing before a rebuild.
const debounce = 150 * time.Millisecond

func runDev(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("dev")
	var (
		f          specFlags
		nf         nodeFlags
		configPath string
	)
	f.add(fs, false)
	fs.StringVar(&configPath, "config", "", "the config `FILE` that holds the deploy flags (default: "+configName+" beside the function)")
	nf.add(fs, "(default: a temporary directory)")
	pos, err := e.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	file := pos[0]
	spec, err := configuredSpec(fs, &f, configPath, file, e.global.namespace)
	if err != nil {
		return err
	}
	cfg, err := nf.config(e, fs)
	if err != nil {
		return err
	}
	// A file that does not build is reported before a node starts.
	b, err := build(file)
	if err != nil {
		return err
	}

	// Function logs and messages share stdout from several goroutines.
	out := &lockedWriter{w: e.stdout}
	errOut := &lockedWriter{w: e.stderr}
	e.stdout, e.stderr = out, errOut
	if cfg.ServerURL == "" && cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "natsfn-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}
	cfg.Logger = slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	opts := []nats.Option{nats.Name("natsfn dev")}
	switch {
	case cfg.ServerURL == "":
		// Its own server: dev works in the namespace as its owner, and
		// makes the namespace when it is new.
		creds, err := n.DevCreds(ctx, spec.Namespace)
		if err != nil {
			return err
		}
		opts = append(opts, nats.UserJWTAndSeed(creds.JWT, string(creds.Seed)))
	default:
		auth, err := e.global.nodeAuth().Options()
		if err != nil {
			return err
		}
		opts = append(opts, auth...)
	}
	nc, err := nats.Connect(n.ClientURL(), opts...)
	if err != nil {
		return fmt.Errorf("connect to the node: %w", err)
	}
	defer nc.Close()
	c, err := client.New(nc, client.WithNamespace(spec.Namespace))
	if err != nil {
		return err
	}
	info, err := deploy(ctx, c, spec, b)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s\ntry: natsfn invoke %s 'hello'%s\n", deploySummary(info), exampleSubject(spec.Triggers[0]), serverFlag(redactURL(n.ClientURL())))
	if path := n.AdminCreds(); path != "" && localAdminCreds(n.ClientURL()) != path {
		fmt.Fprintf(out, "other commands (ls, logs, kv, ...) need --creds %s\n", path)
	}
	fmt.Fprintf(out, "watching %s for changes; Ctrl-C stops\n", filepath.Dir(file))

	d := &devLoop{e: e, c: c, spec: spec, file: file, digest: b.Digest, out: out, errOut: errOut}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.Logs(ctx, spec.Name, true, 0, e.printLogEntry); err != nil {
			fmt.Fprintf(errOut, "natsfn: logs: %s\n", oneLine(err.Error()))
		}
	})
	err = d.watch(ctx)
	stop()
	wg.Wait()
	return err
}

// devLoop redeploys a file when it or its neighbours change.
type devLoop struct {
	e      *env
	c      *client.Client
	spec   api.FunctionSpec
	file   string
	digest string // of the bundle now deployed
	out    io.Writer
	errOut io.Writer
}

// watch rebuilds after changes in the file's directory until ctx ends.
func (d *devLoop) watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", d.file, err)
	}
	defer w.Close()
	// Editors often save by writing a new file and renaming it over the old
	// one, so the directory is watched, not the file.
	if err := w.Add(filepath.Dir(d.file)); err != nil {
		return fmt.Errorf("watch %s: %w", filepath.Dir(d.file), err)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if d.relevant(ev) {
				timer.Reset(debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			fmt.Fprintf(d.errOut, "natsfn dev: watching files: %v\n", err)
		case <-timer.C:
			d.redeploy(ctx)
		}
	}
}

// relevant reports whether ev may change the bundle: a write to the file or
// to another source file it may import.
func (d *devLoop) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	if filepath.Base(ev.Name) == filepath.Base(d.file) {
		return true
	}
	switch strings.ToLower(filepath.Ext(ev.Name)) {
	case ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".json":
		return true
	}
	return false
}

// redeploy rebuilds and deploys; on failure the running version stays.
func (d *devLoop) redeploy(ctx context.Context) {
	b, err := build(d.file)
	if err == nil && b.Digest == d.digest {
		return
	}
	var info *api.FunctionInfo
	if err == nil {
		info, err = deploy(ctx, d.c, d.spec, b)
	}
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(d.errOut, "natsfn dev: %s (the previous version keeps serving)\n", oneLine(strings.TrimPrefix(err.Error(), "natsfn: ")))
		}
		return
	}
	d.digest = b.Digest
	fmt.Fprintf(d.out, "re%s\n", deploySummary(info))
}

// exampleSubject makes a subject to invoke out of a trigger with wildcards.
func exampleSubject(trigger string) string {
	tokens := strings.Split(trigger, ".")
	for i, t := range tokens {
		if t == "*" || t == ">" {
			tokens[i] = "test"
		}
	}
	return strings.Join(tokens, ".")
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
