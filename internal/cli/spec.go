package cli

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/natsfn/natsfn/api"
)

// specFlags are the deploy-time settings `deploy` and `dev` share.
type specFlags struct {
	name        string
	triggers    listFlag
	env         listFlag
	timeout     time.Duration
	memory      string
	concurrency int
	httpAllow   listFlag
	disable     listFlag
	consume     string
	maxDeliver  int
	backoff     string
	schedule    string
	timezone    string
	watch       string
}

func (f *specFlags) add(fs *flagSet, all bool) {
	fs.StringVar(&f.name, "name", "", "the function's `NAME` (default: the file's name)")
	fs.Var(&f.triggers, "trigger", "a `SUBJECT` that triggers the function, wildcards allowed; repeatable")
	fs.Var(&f.env, "env", "`K=V` set in the function's global env; repeatable")
	if !all {
		return
	}
	fs.DurationVar(&f.timeout, "timeout", 0, "the `DURATION` one invocation may run (default "+api.DefaultTimeout.String()+")")
	fs.StringVar(&f.memory, "memory", "", "the JS heap `SIZE` per isolate: 64MiB, 1GiB, ... (default 128MiB)")
	fs.IntVar(&f.concurrency, "concurrency", 0, "at most `N` isolates per node (default: the number of CPUs)")
	fs.Var(&f.httpAllow, "http-allow", "a `HOST|CIDR` of those the operator opened that the function may reach over HTTP; repeatable")
	fs.Var(&f.disable, "disable", "a host `SERVICE` (http, kv, objectStore, messaging) the function may not use; repeatable")
	fs.StringVar(&f.consume, "consume", "", "run for every message of the JetStream `STREAM[:FILTER]`, at least once (docs/triggers.md)")
	fs.IntVar(&f.maxDeliver, "max-deliver", 0, "with --consume: deliver a failing message at most `N` times, then dead-letter it (default 5)")
	fs.StringVar(&f.backoff, "backoff", "", "with --consume: the `PAUSES` before redeliveries after a failure, e.g. 1s,5s,30s (the last repeats)")
	fs.StringVar(&f.schedule, "schedule", "", "run on a schedule: a `CRON` expression ('CRON_TZ=Europe/Paris 0 9 * * *'), @hourly, or '@every 30s'")
	fs.StringVar(&f.timezone, "timezone", "", "with --schedule: the IANA `ZONE` of the cron expression (default UTC)")
	fs.StringVar(&f.watch, "watch", "", "run for every change of the KV `BUCKET[:KEYS]` of the namespace (\"\" or . for the function's own)")
}

// triggerSpecs fills spec's consumer-based triggers from the flags.
func (f *specFlags) triggerSpecs(spec *api.FunctionSpec) error {
	if f.consume != "" {
		stream, filter, _ := strings.Cut(f.consume, ":")
		t := &api.StreamTrigger{Stream: stream, Filter: filter, MaxDeliver: f.maxDeliver}
		if f.backoff != "" {
			for _, p := range strings.Split(f.backoff, ",") {
				d, err := time.ParseDuration(strings.TrimSpace(p))
				if err != nil {
					return usageErrorf("--backoff %q: %v", p, err)
				}
				t.Backoff = append(t.Backoff, api.Duration(d))
			}
		}
		spec.Stream = t
	} else if f.maxDeliver != 0 || f.backoff != "" {
		return usageErrorf("--max-deliver and --backoff go with --consume")
	}
	if f.schedule != "" {
		cron, zone := strings.TrimSpace(f.schedule), f.timezone
		if rest, ok := strings.CutPrefix(cron, "CRON_TZ="); ok {
			z, expr, _ := strings.Cut(rest, " ")
			if zone != "" && zone != z {
				return usageErrorf("--schedule names zone %s and --timezone %s", z, zone)
			}
			cron, zone = strings.TrimSpace(expr), z
		}
		spec.Schedule = &api.ScheduleTrigger{Cron: cron, TimeZone: zone}
	} else if f.timezone != "" {
		return usageErrorf("--timezone goes with --schedule")
	}
	if f.watch != "" {
		bucket, keys, _ := strings.Cut(f.watch, ":")
		if bucket == "." {
			bucket = ""
		}
		spec.Watch = &api.WatchTrigger{Bucket: bucket, Keys: keys}
	}
	return nil
}

// spec builds and validates the spec of the function in file. Every mistake
// is a usage error: nothing has been sent yet.
func (f *specFlags) spec(namespace, file string) (api.FunctionSpec, error) {
	spec, err := f.build(namespace, file)
	if err != nil {
		return spec, err
	}
	return spec, checkSpec(spec)
}

// checkSpec validates a spec the flags built, and perhaps a deployed
// version completed.
func checkSpec(spec api.FunctionSpec) error {
	if len(spec.TriggerKinds()) == 0 {
		return usageErrorf("at least one trigger is needed: --trigger SUBJECT, --consume STREAM, --schedule CRON or --watch BUCKET")
	}
	if err := spec.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	return nil
}

// build makes the spec of the function in file of the flags, checking each
// flag but not the whole: it may lack triggers.
func (f *specFlags) build(namespace, file string) (api.FunctionSpec, error) {
	spec := api.FunctionSpec{
		Namespace:   namespace,
		Name:        f.name,
		Triggers:    f.triggers,
		Timeout:     api.Duration(f.timeout),
		Concurrency: f.concurrency,
		HTTPAllow:   f.httpAllow,
		Disable:     f.disable,
		Source:      filepath.Base(file),
	}
	if spec.Name == "" {
		name, err := nameFromFile(file)
		if err != nil {
			return spec, err
		}
		spec.Name = name
	}
	if err := f.triggerSpecs(&spec); err != nil {
		return spec, err
	}
	if len(f.env) > 0 {
		spec.Env = map[string]string{}
		for _, kv := range f.env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return spec, usageErrorf("--env %q: want NAME=VALUE", kv)
			}
			if _, dup := spec.Env[k]; dup {
				return spec, usageErrorf("--env %s is given twice", k)
			}
			spec.Env[k] = v
		}
	}
	if f.memory != "" {
		n, err := parseBytes(f.memory)
		if err != nil {
			return spec, usageErrorf("--memory: %v", err)
		}
		if n == 0 {
			return spec, usageErrorf("--memory must not be zero")
		}
		spec.HeapBytes = n
	}
	if f.timeout < 0 {
		return spec, usageErrorf("--timeout must be positive")
	}
	for _, h := range f.httpAllow {
		if err := validateAllow(h); err != nil {
			return spec, usageErrorf("--http-allow: %v", err)
		}
	}
	return spec, nil
}

// validateAllow checks a host name, an IP address or a CIDR network.
func validateAllow(h string) error {
	bad := fmt.Errorf("%q is not a host name, an IP address or a CIDR network such as 10.0.0.0/8", h)
	if strings.Contains(h, "/") {
		if _, _, err := net.ParseCIDR(h); err != nil {
			return bad
		}
		return nil
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return bad
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return bad
		}
	}
	return nil
}

// nameFromFile is the function name a file gives: its base name without
// the extension, used as is when it is a valid name. Nothing is rewritten,
// not even the case: "My Func.js" and "my.func.js" would both become
// "my-func", and the second deploy would silently replace the first
// function. The error suggests a valid name for --name instead.
func nameFromFile(file string) (string, error) {
	base := filepath.Base(file)
	name := strings.TrimSuffix(base, filepath.Ext(base))
	if api.ValidateName("name", name) == nil {
		return name, nil
	}
	return "", usageErrorf("the file name %q does not make a function name (1 to %d of a-z, 0-9, '-' and '_'): pass --name, e.g. --name %s",
		base, api.MaxNameLen, suggestName(name))
}

// suggestName makes a valid name of s: "My Func" becomes "my-func".
func suggestName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if len(name) > api.MaxNameLen {
		name = strings.TrimRight(name[:api.MaxNameLen], "-")
	}
	if name == "" {
		name = "function"
	}
	return name
}
