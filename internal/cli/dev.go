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

// debounce lets an editor finish writing (and a burst of saves end) before
// a rebuild.
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
	// A file that is not there is a typo, not something to wait for.
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("%s: %w", file, unwrapPath(err))
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
	cfg.Logger = slog.New(withoutFunctionLines{Handler: slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn})})
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	nc, c, err := dialNode(ctx, e, n, cfg, spec.Namespace, "natsfn dev")
	if err != nil {
		return err
	}
	defer nc.Close()

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	logs := &errorCollapser{print: e.printLogEntry, out: out}
	defer logs.flush()
	calls, err := watchCalls(nc, spec.Triggers, out)
	if err != nil {
		fmt.Fprintf(errOut, "natsfn dev: calls are not shown: %s\n", oneLine(err.Error()))
	} else {
		defer calls.stop()
	}
	d := &devLoop{e: e, c: c, spec: spec, file: file, out: out, errOut: errOut, logs: logs,
		hint: func() {
			fmt.Fprintf(out, "try: natsfn invoke %s 'hello'%s\n", exampleSubject(spec.Triggers[0]), serverFlag(redactURL(n.ClientURL())))
			if path := n.AdminCreds(); path != "" && localAdminCreds(n.ClientURL()) != path {
				fmt.Fprintf(out, "other commands (ls, logs, kv, ...) need --creds %s\n", path)
			}
		}}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.Logs(ctx, spec.Name, true, 0, logs.entry); err != nil {
			fmt.Fprintf(errOut, "natsfn: logs: %s\n", oneLine(err.Error()))
		}
	})
	err = d.run(ctx)
	stop()
	wg.Wait()
	return err
}

// devLoop deploys a file and redeploys it when a file it was built from
// changes.
type devLoop struct {
	e      *env
	c      *client.Client
	spec   api.FunctionSpec
	file   string
	out    io.Writer
	errOut io.Writer
	logs   *errorCollapser
	hint   func() // what to try, said after the first deploy

	deployed bool
	digest   string          // of the bundle now deployed
	inputs   map[string]bool // the files the last good build read
	lastErr  string          // the build or deploy error last said
	watched  map[string]bool // directories watched
	// extra are directories made since the last good build: a missing
	// import may appear in them.
	extra map[string]bool
}

// run deploys, then rebuilds after changes until ctx ends. A first build
// that fails is reported and waited on like any later one.
func (d *devLoop) run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", d.file, err)
	}
	defer w.Close()
	abs, err := filepath.Abs(d.file)
	if err != nil {
		return err
	}
	d.inputs = map[string]bool{abs: true}
	d.watched, d.extra = map[string]bool{}, map[string]bool{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	d.redeploy(ctx)
	if d.syncWatches(w) {
		timer.Reset(debounce)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if d.relevant(ev) {
				if ev.Has(fsnotify.Create) {
					if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
						d.extra[ev.Name] = true
					}
				}
				timer.Reset(debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			fmt.Fprintf(d.errOut, "natsfn dev: watching files: %v\n", err)
		case <-timer.C:
			d.redeploy(ctx)
			if d.syncWatches(w) {
				timer.Reset(debounce)
			}
		}
	}
}

// syncWatches watches the directories of the files the bundle was built
// from. Directories, not files: editors often save by writing a new file
// and renaming it over the old one. Adding again is cheap and brings back
// the watch of a directory that was deleted and made again.
//
// It reports whether a directory is watched that was not before: a file
// there may have changed between the build that read it and the watch, so
// the caller builds once more (a build that changes nothing deploys
// nothing).
func (d *devLoop) syncWatches(w *fsnotify.Watcher) (added bool) {
	want := map[string]bool{}
	for f := range d.inputs {
		want[filepath.Dir(f)] = true
	}
	for dir := range d.extra {
		want[dir] = true
	}
	for dir := range want {
		if err := w.Add(dir); err != nil && !os.IsNotExist(err) {
			fmt.Fprintf(d.errOut, "natsfn dev: watch %s: %s\n", dir, oneLine(err.Error()))
		}
		added = added || !d.watched[dir]
	}
	for dir := range d.watched {
		if !want[dir] {
			w.Remove(dir)
		}
	}
	d.watched = want
	return added
}

// relevant reports whether ev may change the bundle: a change to a file
// the bundle was built from, or to a source file or directory beside them
// that an import may now resolve to. A rebuild that changes nothing is
// not deployed, so erring on the side of rebuilding costs little.
func (d *devLoop) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	if d.inputs[ev.Name] || ev.Has(fsnotify.Create) {
		return true
	}
	switch strings.ToLower(filepath.Ext(ev.Name)) {
	case ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".json":
		return true
	}
	return false
}

// redeploy rebuilds and deploys; on failure the running version, if any,
// stays, and the error is said once until it changes.
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
		if ctx.Err() != nil {
			return
		}
		msg := oneLine(strings.TrimPrefix(err.Error(), "natsfn: "))
		if msg == d.lastErr {
			return
		}
		d.lastErr = msg
		if d.deployed {
			fmt.Fprintf(d.errOut, "natsfn dev: %s (the previous version keeps serving)\n", msg)
		} else {
			fmt.Fprintf(d.errOut, "natsfn dev: %s (waiting for a fix; Ctrl-C stops)\n", msg)
		}
		return
	}
	d.lastErr = ""
	d.digest = b.Digest
	d.inputs = map[string]bool{}
	for _, f := range b.Inputs {
		d.inputs[f] = true
	}
	clear(d.extra)
	d.logs.flush()
	if d.deployed {
		fmt.Fprintf(d.out, "re%s\n", deploySummary(info))
		return
	}
	d.deployed = true
	fmt.Fprintln(d.out, deploySummary(info))
	d.hint()
	what := filepath.Base(d.file)
	if n := len(b.Inputs) - 1; n == 1 {
		what += " and the file it imports"
	} else if n > 1 {
		what += fmt.Sprintf(" and the %d files it imports", n)
	}
	fmt.Fprintf(d.out, "watching %s for changes; Ctrl-C stops\n", what)
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

// dialNode connects to the node n that a command started, working in
// namespace: as the namespace's owner on the node's own server (making the
// namespace when it is new), with the command's credentials on a system
// the node joined.
func dialNode(ctx context.Context, e *env, n *node.Node, cfg node.Config, namespace, name string) (*nats.Conn, *client.Client, error) {
	opts := []nats.Option{nats.Name(name)}
	if cfg.ServerURL == "" {
		creds, err := n.DevCreds(ctx, namespace)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, nats.UserJWTAndSeed(creds.JWT, string(creds.Seed)))
	} else {
		auth, err := e.global.nodeAuth().Options()
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, auth...)
	}
	nc, err := nats.Connect(n.ClientURL(), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the node: %w", err)
	}
	c, err := client.New(nc, client.WithNamespace(namespace))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, c, nil
}
