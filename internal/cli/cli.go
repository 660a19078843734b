// Package cli is the natsfn command line. Run is the whole program but for
// the process, so tests run commands in process with buffers for stdio.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/nats-io/nats.go"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one `natsfn CMD`.
type command struct {
	name    string
	args    string // the synopsis after the name
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"up", "[--server URL] [--listen ADDR] [--data DIR] [--sandbox auto|process|none] [--name NAME] [--metrics HOST:PORT]", "run a node (with an embedded NATS server unless --server)", runUp},
		{"dev", "FILE --trigger SUBJECT... [--name NAME] [--env K=V]...", "run a node, deploy FILE, redeploy it when it or a file it imports changes; show each call and the logs", runDev},
		{"init", "DIR [--force]", "write a new TypeScript project into DIR: a function, its test, tsconfig.json and the types", runInit},
		{"types", "[FILE | -]", "write the TypeScript declarations of hostServices, env, msg and the payload (default natsfn.d.ts; - for stdout)", runTypes},
		{"test", "[DIR | FILE]... [--timeout 5s]", "run each *.test.ts / *.test.js (default: under .) as a function on a node of its own, with real host services", runTest},
		{"deploy", "[FILE] [--config FILE] --trigger SUBJECT... [--name NAME] [--env K=V]... [--timeout 5s] [--memory 128MiB] [--concurrency N] [--http-allow HOST|CIDR]... [--keep-data] [--reset] [--force]", "bundle FILE and deploy it as a function; without FILE, deploy every function of ./natsfn.json", runDeploy},
		{"versions", "NAME", "list the kept versions of a function, newest first (" + versionsKept + ")", runVersions},
		{"rollback", "NAME [--to VERSION] [--force]", "deploy an earlier version of a function again, as a new version (default: the one before the current)", runRollback},
		{"invoke", "SUBJECT [PAYLOAD | -]", "send a request and print the reply (- reads the payload from stdin)", runInvoke},
		{"ls", "", "list the namespace's functions", runList},
		{"info", "NAME", "show a function", runInfo},
		{"rm", "NAME [--purge]", "remove a function; --purge deletes its KV bucket and object store too", runRemove},
		{"logs", "NAME [-f] [--last N]", "show a function's logs", runLogs},
		{"kv", "NAME get KEY | put KEY [VALUE | -] | del KEY | ls", "look into a function's key-value bucket", runKV},
		{"dlq", "ls NAME | replay NAME [--seq N]", "list a function's dead letters, or put them back on the subjects they came from", runDLQ},
		{"ns", "add NAME [--max-storage SIZE] [--out FILE] | set NAME --max-storage SIZE | ls | rm NAME | creds NAME [--ttl D] [--out FILE]", "manage namespaces and their credentials (administrator)", runNS},
		{"nodes", "[drain NAME [--wait=false] [--timeout D]]", "list the nodes of the NATS system, or drain one: it finishes its calls and leaves (administrator)", runNodes},
		{"version", "", "print natsfn's version", runVersion},
		{"bench", "[SUBJECT] [--requests N] [--inflight N] [--size BYTES] [--rounds N]", "measure a function (a deployed echo by default) against a plain Go responder in a process of its own: latency, throughput, CPU per call", runBench},
	}
}

// env is what a command runs with.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	global globals
	cmd    string
	flags  *flagSet // the current command's, for its usage
	// deny ends the command when the server refuses it something, with
	// the refusal as the cause (see dial).
	deny context.CancelCauseFunc
	// anonymous is set when the command connected without credentials.
	anonymous bool
}

// Run runs the natsfn command line args and returns the exit status. ctx
// ends on SIGINT or SIGTERM; long-running commands stop cleanly then.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	return e.exit(e.run(ctx, args))
}

func (e *env) run(ctx context.Context, args []string) error {
	// Global flags may come before the command, as in `natsfn -s URL ls`.
	fs := e.newFlagSet("")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageErrorf("%s", strings.TrimPrefix(err.Error(), "flag "))
	}
	args = fs.Args()
	if len(args) == 0 {
		return usageErrorf("no command given")
	}
	name, args := args[0], args[1:]
	if name == "help" {
		if len(args) == 0 {
			return errHelp
		}
		name, args = args[0], []string{"--help"}
	}
	cmds := commands()
	if IsBenchResponder() {
		cmds = append(cmds, command{name: benchResponderCommand, run: runBenchResponder})
	}
	for _, c := range cmds {
		if c.name == name {
			e.cmd = name
			ctx, e.deny = context.WithCancelCause(ctx)
			defer e.deny(nil)
			err := c.run(ctx, e, args)
			if cause := context.Cause(ctx); err != nil && errors.Is(cause, nats.ErrPermissionViolation) {
				// What the server refused says more than the timeout
				// or cancellation it caused.
				return fmt.Errorf("%v (%s)", cause, e.permissionHint())
			}
			return err
		}
	}
	return usageErrorf("unknown command %q", name)
}

// errHelp asks for the usage of the current command, on stdout.
var errHelp = flag.ErrHelp

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitStatus ends with a status after the command has said why itself.
type exitStatus struct{ code int }

func (x *exitStatus) Error() string { return fmt.Sprintf("exit status %d", x.code) }

// exit reports err, in one line on stderr, and returns the exit status.
func (e *env) exit(err error) int {
	var (
		usage *usageError
		exit  *exitStatus
	)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		e.printUsage(e.stdout)
		return exitOK
	case errors.As(err, &exit):
		return exit.code
	case errors.As(err, &usage):
		see := "natsfn --help"
		if e.cmd != "" {
			see = "natsfn " + e.cmd + " --help"
		}
		fmt.Fprintf(e.stderr, "natsfn: %s (see '%s')\n", oneLine(usage.msg), see)
		return exitUsage
	default:
		fmt.Fprintf(e.stderr, "natsfn: %s\n", oneLine(strings.TrimPrefix(err.Error(), "natsfn: ")))
		return exitError
	}
}

// oneLine folds a message onto one line, escaping what a terminal would
// act on: messages may quote a function's or a server's text.
func oneLine(s string) string {
	return printable(strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")), " "))
}
