package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/node"
)

// testSuffixes name the files `natsfn test` runs.
var testSuffixes = []string{".test.ts", ".test.mts", ".test.js", ".test.mjs"}

// runTest runs every test file of the directories given as a function on
// a node of its own: an embedded NATS server and real host services in a
// temporary directory, gone when the command ends. A test file's default
// export is the test; it passes when it returns (or its Promise resolves)
// and fails when it throws.
func runTest(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("test")
	var timeout time.Duration
	fs.DurationVar(&timeout, "timeout", api.DefaultTimeout, "the `DURATION` each test may run")
	pos, err := e.parse(fs, args, 0, -1)
	if err != nil {
		return err
	}
	if timeout <= 0 || timeout > api.MaxTimeout {
		return usageErrorf("--timeout must be between 1ms and %s", api.MaxTimeout)
	}
	if len(pos) == 0 {
		pos = []string{"."}
	}
	var files []string
	for _, p := range pos {
		found, err := findTests(p)
		if err != nil {
			return err
		}
		files = append(files, found...)
	}
	if len(files) == 0 {
		return fmt.Errorf("no test files (*.test.ts, *.test.js) in %s", strings.Join(pos, ", "))
	}

	dir, err := os.MkdirTemp("", "natsfn-test-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := node.Config{DataDir: dir, Listen: "127.0.0.1:-1",
		Logger: slog.New(withoutFunctionLines{Handler: slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})})}
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	nc, c, err := dialNode(ctx, e, n, cfg, e.global.namespace, "natsfn test")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	r := &testRunner{e: e, c: c, nc: nc, js: js, timeout: timeout, names: map[string]bool{}}
	failed := 0
	for _, f := range files {
		if !r.run(ctx, f) {
			failed++
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %s failed", failed, plural(len(files), "test"))
	}
	fmt.Fprintf(e.stdout, "PASS (%s)\n", plural(len(files), "test"))
	return nil
}

// findTests lists the test files under path (a file is taken as is),
// leaving out node_modules and hidden directories.
func findTests(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		for _, s := range testSuffixes {
			if strings.HasSuffix(d.Name(), s) {
				files = append(files, p)
			}
		}
		return nil
	})
	return files, err
}

// testRunner deploys each test file as a function and calls it once.
type testRunner struct {
	e       *env
	c       *client.Client
	nc      *nats.Conn
	js      jetstream.JetStream
	timeout time.Duration
	names   map[string]bool // of the functions made so far
}

// run runs one test file and prints its line; it reports whether it passed.
func (r *testRunner) run(ctx context.Context, file string) bool {
	start := time.Now()
	fail := func(why string, logs []string) bool {
		fmt.Fprintf(r.e.stdout, "FAIL %s: %s\n", file, oneLine(why))
		for _, l := range logs {
			fmt.Fprintf(r.e.stdout, "    %s\n", l)
		}
		return false
	}
	b, err := build(file)
	if err != nil {
		return fail(err.Error(), nil)
	}
	name := suggestName(strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)))
	for base, i := name, 2; r.names[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	r.names[name] = true
	spec := api.FunctionSpec{Namespace: r.c.Namespace(), Name: name, Triggers: []string{"natsfn-test." + name},
		Timeout: api.Duration(r.timeout), Source: filepath.Base(file)}
	if _, err := deploy(ctx, r.c, spec, b); err != nil {
		return fail(strings.TrimPrefix(err.Error(), "natsfn: "), nil)
	}
	// The call's deadline is the function's; a margin lets its own
	// timeout answer first.
	reply, err := r.nc.Request(spec.Triggers[0], nil, r.timeout+10*time.Second)
	if err != nil {
		return fail(err.Error(), nil)
	}
	code := reply.Header.Get(api.HeaderErrorCode)
	if code == "" {
		fmt.Fprintf(r.e.stdout, "ok   %s %s\n", file, roundDuration(time.Since(start)))
		return true
	}
	why, logs := r.failure(ctx, spec)
	if why == "" {
		why = reply.Header.Get(api.HeaderError) + " (" + code + ")"
	}
	return fail(why, logs)
}

// failure reads the test function's log: the error that failed it (its
// message, without the stack) and what it logged before.
func (r *testRunner) failure(ctx context.Context, spec api.FunctionSpec) (string, []string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := r.js.Stream(ctx, api.LogStream)
	if err != nil {
		return "", nil
	}
	// Every entry of this function, whenever the stream stores it: the
	// function is new on a new node, so all of them are this test's.
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{api.LogSubject(spec.Namespace, spec.Name)}, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return "", nil
	}
	it, err := cons.Messages()
	if err != nil {
		return "", nil
	}
	defer it.Stop()
	var logs []string
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return "", logs
		}
		var entry api.LogEntry
		if json.Unmarshal(m.Data(), &entry) != nil {
			continue
		}
		if entry.Level != "error" {
			logs = append(logs, fmt.Sprintf("%-5s %s", strings.ToUpper(entry.Level), printable(entry.Message)))
			continue
		}
		msg := invocationSubject.ReplaceAllString(entry.Message, "")
		msg = strings.TrimPrefix(msg, "failed: ")
		if i := strings.Index(msg, "\n    at "); i >= 0 {
			msg = msg[:i]
		}
		return msg, logs
	}
}

// plural is "1 test", "2 tests".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
