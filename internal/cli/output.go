package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/natsfn/natsfn/api"
)

// printJSON writes v as indented JSON on stdout.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// timestamp is how times are shown: RFC 3339 in UTC.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (e *env) printList(fns []api.FunctionInfo) {
	if len(fns) == 0 {
		fmt.Fprintf(e.stdout, "no functions in namespace %s\n", e.global.namespace)
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTRIGGERS\tDEPLOYED\tSIZE")
	for _, f := range fns {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Spec.Name, strings.Join(f.Spec.Triggers, ","), timestamp(f.DeployedAt), formatBytes(f.BundleSize))
	}
	tw.Flush()
}

func (e *env) printInfo(info *api.FunctionInfo) {
	s := info.Spec
	concurrency := "number of CPUs"
	if s.Concurrency > 0 {
		concurrency = fmt.Sprint(s.Concurrency)
	}
	var env []string
	for k := range s.Env {
		env = append(env, k)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("name", s.Name)
	row("namespace", s.Namespace)
	row("triggers", strings.Join(s.Triggers, ", "))
	row("source", s.Source)
	row("revision", fmt.Sprint(info.Revision))
	row("deployed", timestamp(info.DeployedAt))
	row("bundle", formatBytes(info.BundleSize)+", "+info.BundleDigest)
	row("timeout", s.EffectiveTimeout().String())
	row("memory", formatBytes(s.EffectiveHeapBytes()))
	row("concurrency", concurrency)
	row("env", strings.Join(sorted(env), ", "))
	row("http allow", strings.Join(s.HTTPAllow, ", "))
	row("disabled", strings.Join(s.Disable, ", "))
	tw.Flush()
}

// printLogEntry writes one entry as `2026-11-24T10:00:00Z INFO  message`,
// or as a JSON line with --json.
func (e *env) printLogEntry(entry api.LogEntry) {
	if e.global.json {
		b, _ := json.Marshal(entry)
		fmt.Fprintf(e.stdout, "%s\n", b)
		return
	}
	fmt.Fprintf(e.stdout, "%s %-5s %s\n", timestamp(entry.Time), strings.ToUpper(entry.Level), strings.TrimRight(entry.Message, "\n"))
}
