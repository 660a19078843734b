package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", printable(f.Spec.Name), printable(strings.Join(f.Spec.Triggers, ",")), timestamp(f.DeployedAt), formatBytes(f.BundleSize))
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
			fmt.Fprintf(tw, "%s:\t%s\n", k, printable(v))
		}
	}
	row("name", s.Name)
	row("namespace", s.Namespace)
	row("trigger kinds", strings.Join(s.TriggerKinds(), ", "))
	row("triggers", strings.Join(s.Triggers, ", "))
	if t := s.Stream; t != nil {
		row("stream", fmt.Sprintf("%s %s (max deliver %d, backoff %v)", t.Stream, t.Filter, t.EffectiveMaxDeliver(), t.Backoff))
	}
	if t := s.Schedule; t != nil {
		row("schedule", strings.TrimSpace(t.Cron+" "+t.TimeZone))
	}
	if t := s.Watch; t != nil {
		row("watch", strings.TrimSpace(t.Bucket+" "+t.Keys))
	}
	row("source", s.Source)
	row("version", fmt.Sprint(info.Version))
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
	fmt.Fprintf(e.stdout, "%s %-5s %s\n", timestamp(entry.Time), printable(strings.ToUpper(entry.Level)), printable(strings.TrimRight(entry.Message, "\n")))
}

// printable is s safe to write to a terminal: a function's output, names
// and subjects stored by older versions. Control characters (C0, DEL, C1),
// bytes that are not UTF-8 and the bidirectional overrides that reorder
// what is shown are escaped as Go does in quoted strings (\n, \x1b,
// \u202e), so a message can neither forge a log line nor drive the
// terminal. Printable Unicode is kept as is.
func printable(s string) string {
	i := strings.IndexFunc(s, unsafeRune)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for s = s[i:]; s != ""; {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case unsafeRune(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

// unsafeRune reports whether a terminal may act on r rather than show it.
// utf8.RuneError stands for bytes that are not UTF-8.
func unsafeRune(r rune) bool {
	return api.IsControl(r) || r == utf8.RuneError ||
		r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 // embeddings, overrides, isolates
}
