package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/natsfn/natsfn/internal/natsconn"
	"github.com/natsfn/natsfn/internal/tenancy"
)

// defaultServer is used when neither --server nor NATS_URL says otherwise.
const defaultServer = "nats://127.0.0.1:4222"

// globals are the flags every command takes.
type globals struct {
	server    string
	creds     string
	nkey      string
	tlsCert   string
	tlsKey    string
	tlsCA     string
	namespace string
	json      bool

	// identity is whom the credentials are for; namespace is resolved
	// from it and the flag by resolveNamespace.
	identity tenancy.Identity
}

// serverURL is --server, else $NATS_URL, else the local default.
func (g *globals) serverURL() string {
	if g.server != "" {
		return g.server
	}
	if u := os.Getenv("NATS_URL"); u != "" {
		return u
	}
	return defaultServer
}

// auth is how client commands log in and check the server: the flags, else
// the nats CLI's environment variables ($NATS_CREDS, $NATS_NKEY,
// $NATS_CERT, $NATS_KEY, $NATS_CA).
func (g *globals) auth() natsconn.Auth {
	return natsconn.Auth{
		Creds:   g.credsFile(),
		NKey:    orEnv(g.nkey, "NATS_NKEY"),
		TLSCert: orEnv(g.tlsCert, "NATS_CERT"),
		TLSKey:  orEnv(g.tlsKey, "NATS_KEY"),
		TLSCA:   orEnv(g.tlsCA, "NATS_CA"),
	}
}

// nodeAuth is how a node logs in to a NATS system it joins: the flags
// alone, so that a shell set up for a tenant's client does not make the
// node log in as the tenant.
func (g *globals) nodeAuth() natsconn.Auth {
	return natsconn.Auth{Creds: g.creds, NKey: g.nkey, TLSCert: g.tlsCert, TLSKey: g.tlsKey, TLSCA: g.tlsCA}
}

// connectArgs are the global flags that say how to connect, as given, for
// a process of this program that connects the same way (the environment
// it inherits says the rest).
func (g *globals) connectArgs() []string {
	var args []string
	for _, f := range []struct{ name, value string }{
		{"server", g.server}, {"creds", g.creds}, {"nkey", g.nkey}, {"tlscert", g.tlsCert},
		{"tlskey", g.tlsKey}, {"tlsca", g.tlsCA}, {"namespace", g.namespace},
	} {
		if f.value != "" {
			args = append(args, "--"+f.name+"="+f.value)
		}
	}
	return args
}

func orEnv(flagValue, name string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv(name)
}

// flagSet is a command's flags, with short aliases and the usage that
// --help prints.
type flagSet struct {
	*flag.FlagSet
	aliases map[string]string // short name -> long name
}

// newFlagSet returns the flags of the current command, the globals among
// them. Parse errors are returned, never printed by package flag.
func (e *env) newFlagSet(cmd string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet("natsfn "+cmd, flag.ContinueOnError), aliases: map[string]string{}}
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	g := &e.global
	fs.StringVar(&g.server, "server", g.server, "the NATS server's `URL`s, comma-separated (default $NATS_URL or "+defaultServer+")")
	fs.alias("s", "server")
	fs.StringVar(&g.creds, "creds", g.creds, "a NATS credentials `FILE` (default $NATS_CREDS, or the local node's admin.creds)")
	fs.StringVar(&g.nkey, "nkey", g.nkey, "a `FILE` holding the nkey seed to log in with (default $NATS_NKEY)")
	fs.StringVar(&g.tlsCert, "tlscert", g.tlsCert, "a client certificate `FILE` (PEM) for TLS (default $NATS_CERT)")
	fs.StringVar(&g.tlsKey, "tlskey", g.tlsKey, "the client certificate's private key `FILE` (PEM) (default $NATS_KEY)")
	fs.StringVar(&g.tlsCA, "tlsca", g.tlsCA, "a `FILE` of the CA certificates (PEM) that sign the server's (default $NATS_CA)")
	fs.StringVar(&g.namespace, "namespace", g.namespace, "the `NAMESPACE` to work in (default: the one the credentials are for, else default)")
	fs.alias("n", "namespace")
	fs.BoolVar(&g.json, "json", g.json, "print JSON")
	e.flags = fs
	return fs
}

// alias makes -short another name of --long.
func (fs *flagSet) alias(short, long string) {
	f := fs.Lookup(long)
	fs.Var(f.Value, short, f.Usage)
	fs.aliases[short] = long
}

// parse parses flags anywhere among the positional arguments, as users
// type `natsfn deploy fn.js --name x`; "--" ends the flags. It returns the
// positional arguments and checks their number.
func (e *env) parse(fs *flagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, errHelp
			}
			return nil, usageErrorf("%s", strings.TrimPrefix(err.Error(), "flag "))
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if err := e.resolveNamespace(); err != nil {
		return nil, err
	}
	switch {
	case len(pos) < minArgs:
		return nil, usageErrorf("%s needs %s", e.cmd, e.synopsis())
	case maxArgs >= 0 && len(pos) > maxArgs:
		return nil, usageErrorf("unexpected argument %q", pos[maxArgs])
	}
	return pos, nil
}

// synopsis is the current command's argument synopsis.
func (e *env) synopsis() string {
	for _, c := range commands() {
		if c.name == e.cmd {
			return c.args
		}
	}
	return ""
}

// printUsage writes the usage of the current command, or of natsfn.
func (e *env) printUsage(w io.Writer) {
	if e.cmd == "" {
		fmt.Fprint(w, "natsfn runs JavaScript functions triggered by NATS messages.\n\nUsage: natsfn COMMAND [ARGS] [FLAGS]\n\nCommands:\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range commands() {
			fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
		}
		tw.Flush()
		fmt.Fprint(w, "\nFlags of every command:\n")
		e.printFlags(w, e.newFlagSet(""))
		fmt.Fprint(w, "\nRun 'natsfn COMMAND --help' for a command's arguments and flags.\n")
		return
	}
	for _, c := range commands() {
		if c.name == e.cmd {
			fmt.Fprintf(w, "Usage: natsfn %s %s\n\n%s.\n\nFlags:\n", c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:])
		}
	}
	e.printFlags(w, e.flags)
}

func (e *env) printFlags(w io.Writer, fs *flagSet) {
	short := map[string]string{}
	for s, l := range fs.aliases {
		short[l] = s
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		if _, isAlias := fs.aliases[f.Name]; isAlias {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		names := "--" + f.Name
		if s, ok := short[f.Name]; ok {
			names = "-" + s + ", " + names
		}
		if name != "" {
			names += " " + name
		}
		switch def := f.DefValue; {
		case def == "" || def == "false" || def == "0" || def == "0s":
		case fmt.Sprintf("%T", f.Value) == "*flag.stringValue":
			usage += fmt.Sprintf(" (default %q)", def)
		default:
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", names, usage)
	})
	tw.Flush()
}

// listFlag collects a repeatable flag's values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}
