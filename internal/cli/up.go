package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/node"
)

// mergeServices adds the flags' switches and allow list to the file's
// configuration.
func mergeServices(file, flags hostsvc.Config) hostsvc.Config {
	file.KV.Disabled = file.KV.Disabled || flags.KV.Disabled
	file.Objects.Disabled = file.Objects.Disabled || flags.Objects.Disabled
	file.Messaging.Disabled = file.Messaging.Disabled || flags.Messaging.Disabled
	file.HTTP.Disabled = file.HTTP.Disabled || flags.HTTP.Disabled
	file.HTTP.Allow = append(file.HTTP.Allow, flags.HTTP.Allow...)
	return file
}

// defaultListen is where the embedded NATS server listens.
const defaultListen = "127.0.0.1:4222"

// nodeFlags are the flags of the commands that run a node.
type nodeFlags struct {
	listen       string
	data         string
	sandbox      string
	workerMemory string
	maxIsolates  int
	maxWorkers   int
	name         string
	workerBudget string
	services     string
	disable      listFlag
	httpAllow    listFlag
	metrics      string
	metricsFns   int
	replicas     int
	hideErrors   bool
}

func (f *nodeFlags) add(fs *flagSet, dataUsage string) {
	fs.Lookup("server").Usage = "the `URL` of a NATS system to join (default: run an embedded NATS server)"
	fs.StringVar(&f.listen, "listen", defaultListen, "the `HOST:PORT` the embedded NATS server listens on")
	fs.StringVar(&f.data, "data", "", "the `DIR` holding the embedded server's JetStream data "+dataUsage)
	fs.StringVar(&f.sandbox, "sandbox", "auto", "how functions are isolated: `auto|process|none`")
	fs.StringVar(&f.workerMemory, "worker-memory", "2GiB", "the memory `LIMIT` of each namespace's worker process (its cgroup)")
	fs.IntVar(&f.maxIsolates, "max-isolates", 0, "at most `N` isolates alive at once per namespace (in process: in all); the longest idle go first (default: one per 4 MiB of --worker-memory)")
	fs.IntVar(&f.maxWorkers, "max-workers", 0, "at most `N` namespaces' workers alive at once (default 64)")
	fs.StringVar(&f.workerBudget, "worker-budget", "", "the `SIZE` the workers' memory limits may add up to (default: twice the machine's memory)")
	fs.StringVar(&f.services, "services", "", "a JSON `FILE` with every function's host-service limits (docs/host-services.md)")
	fs.Var(&f.disable, "disable", "turn a host `SERVICE` (http, kv, objectStore, messaging) off for every function; repeatable")
	fs.IntVar(&f.replicas, "replicas", 0, "keep `N` copies (1-5) of natsfn's state and every function's bucket in the NATS system; raises, never lowers (default: what the system keeps, 3 on a new cluster, 1 on a single server)")
	fs.Var(&f.httpAllow, "http-allow", "a `HOST|CIDR` every function may reach over HTTP although the egress policy refuses it; repeatable")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics on `HOST:PORT` (/metrics, and health at /healthz and /readyz)")
	fs.BoolVar(&f.hideErrors, "hide-exceptions", false, "answer a function's exception with \"function failed\" alone, keeping its message out of the caller's Nats-Service-Error (the log has it either way)")
	fs.IntVar(&f.metricsFns, "metrics-functions", 0, "at most `N` functions of each namespace get metrics series of their own; the others share function=\"_other\" (default 100)")
}

// config checks the flags and returns the node's configuration. The data
// directory is left empty for the caller to choose.
func (f *nodeFlags) config(e *env, fs *flagSet) (node.Config, error) {
	switch f.sandbox {
	case "auto", "process", "none":
	default:
		return node.Config{}, usageErrorf("--sandbox %q: want auto, process or none", f.sandbox)
	}
	workerMemory, err := parseBytes(f.workerMemory)
	if err != nil || workerMemory < 64<<20 {
		return node.Config{}, usageErrorf("--worker-memory %q: want a size of at least 64MiB, such as 2GiB", f.workerMemory)
	}
	if f.maxIsolates < 0 {
		return node.Config{}, usageErrorf("--max-isolates %d: want a positive number", f.maxIsolates)
	}
	if f.maxWorkers < 0 {
		return node.Config{}, usageErrorf("--max-workers %d: want a positive number", f.maxWorkers)
	}
	if f.metrics != "" {
		if _, port, err := net.SplitHostPort(f.metrics); err != nil || port == "" {
			return node.Config{}, usageErrorf("--metrics %q: want HOST:PORT, such as 127.0.0.1:9090", f.metrics)
		}
	}
	if f.metricsFns < 0 {
		return node.Config{}, usageErrorf("--metrics-functions %d: want a positive number", f.metricsFns)
	}
	if f.replicas < 0 || f.replicas > 5 {
		return node.Config{}, usageErrorf("--replicas %d: want 1 to 5", f.replicas)
	}
	var workerBudget int64
	if f.workerBudget != "" {
		if workerBudget, err = parseBytes(f.workerBudget); err != nil || workerBudget < workerMemory {
			return node.Config{}, usageErrorf("--worker-budget %q: want a size of at least --worker-memory, such as 16GiB", f.workerBudget)
		}
	}
	var services node.ServicesFile
	var servicesCfg node.Services
	if f.services != "" {
		if servicesCfg, err = node.LoadServicesFile(f.services); err != nil {
			return node.Config{}, usageErrorf("--services: %v", err)
		}
	}
	services.Disable, services.HTTP.Allow = f.disable, f.httpAllow
	extra, err := services.Config()
	if err != nil {
		return node.Config{}, usageErrorf("%v", err)
	}
	servicesCfg.Config = mergeServices(servicesCfg.Config, extra)
	if e.global.server != "" {
		var embeddedOnly []string
		fs.Visit(func(fl *flag.Flag) {
			if fl.Name == "listen" || fl.Name == "data" {
				embeddedOnly = append(embeddedOnly, "--"+fl.Name)
			}
		})
		if len(embeddedOnly) > 0 {
			return node.Config{}, usageErrorf("%s applies to the embedded NATS server, not with --server", embeddedOnly[0])
		}
		if err := e.global.nodeAuth().Validate(); err != nil {
			return node.Config{}, usageErrorf("%v", err)
		}
	} else if a := e.global.nodeAuth(); a.LogsIn() || a.TLSCert != "" || a.TLSCA != "" {
		return node.Config{}, usageErrorf("--creds, --nkey and --tls* log in to a NATS system the node joins: they need --server")
	} else if _, port, err := net.SplitHostPort(f.listen); err != nil || port == "" {
		return node.Config{}, usageErrorf("--listen %q: want HOST:PORT", f.listen)
	}
	return node.Config{
		ServerURL: e.global.server,
		Creds:     e.global.creds,
		NKey:      e.global.nkey,
		TLSCert:   e.global.tlsCert,
		TLSKey:    e.global.tlsKey,
		TLSCA:     e.global.tlsCA,
		Listen:    f.listen,
		DataDir:   f.data,
		Sandbox:   f.sandbox,
		// A worker runs many isolates: its limit is its namespace's budget.
		WorkerMemory:   workerMemory,
		MaxIsolates:    f.maxIsolates,
		HideExceptions: f.hideErrors,
		MaxWorkers:     f.maxWorkers,
		Name:           f.name,
		// A zero budget is the node's default.
		WorkerMemoryBudget: workerBudget,
		Services:           servicesCfg,
		Metrics:            f.metrics,
		MetricsFunctions:   f.metricsFns,
		Replicas:           f.replicas,
	}, nil
}

func runUp(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("up")
	var f nodeFlags
	f.add(fs, "(default $XDG_DATA_HOME/natsfn or ~/.local/share/natsfn)")
	// Only up: dev's --name names the function.
	fs.StringVar(&f.name, "name", "", "this node's `NAME` in logs and `natsfn nodes` (default: the host name and a random suffix; give one that stays the same across restarts)")
	if _, err := e.parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, err := f.config(e, fs)
	if err != nil {
		return err
	}
	if cfg.ServerURL == "" {
		if cfg.DataDir == "" {
			if cfg.DataDir, err = defaultDataDir(); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(e.stderr, nil))
	stopProfile, err := startNodeProfile()
	if err != nil {
		return err
	}
	defer stopProfile()
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	credsFlag := ""
	if path := n.AdminCreds(); path != "" {
		fmt.Fprintf(e.stdout, "the administrator's credentials are in %s\n", path)
		if localAdminCreds(n.ClientURL()) != path {
			credsFlag = " --creds " + path
		}
	}
	fmt.Fprintf(e.stdout, "natsfn is up on %s; next, try: natsfn deploy hello.js --trigger hello%s%s\n", redactURL(n.ClientURL()), serverFlag(redactURL(n.ClientURL())), credsFlag)
	// SIGTERM or SIGINT (ctx) drains the node, as `natsfn nodes drain`
	// does; either way the node has finished its calls when up exits 0.
	select {
	case <-ctx.Done():
		fmt.Fprintln(e.stdout, "draining: finishing the calls in flight, then leaving (a second signal stops at once)")
	case <-n.Done():
	}
	return n.Close()
}

// serverFlag is the --server flag other commands need to reach url.
func serverFlag(url string) string {
	if url == defaultServer {
		return ""
	}
	return " -s " + url
}

// defaultDataDir is $XDG_DATA_HOME/natsfn, or ~/.local/share/natsfn.
func defaultDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "natsfn"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no data directory: %w (use --data DIR)", err)
	}
	return filepath.Join(home, ".local", "share", "natsfn"), nil
}
