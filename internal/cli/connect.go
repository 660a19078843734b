package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/natsconn"
	"github.com/natsfn/natsfn/internal/node"
	"github.com/natsfn/natsfn/internal/tenancy"
)

// connectTimeout bounds dialing the NATS server.
const connectTimeout = 5 * time.Second

// sessionTTL bounds the namespace credentials the CLI mints for itself when
// it runs as the administrator.
const sessionTTL = time.Hour

// credsFile is --creds, else $NATS_CREDS; empty when neither is set.
func (g *globals) credsFile() string {
	if g.creds != "" {
		return g.creds
	}
	return os.Getenv("NATS_CREDS")
}

// resolveNamespace settles the namespace a command works in: the one the
// credentials are for (a tenant's may not name another), else the flag,
// else default.
func (e *env) resolveNamespace() error {
	g := &e.global
	if path := g.credsFile(); path != "" {
		id, err := tenancy.ReadIdentity(path)
		if err != nil {
			return fmt.Errorf("credentials: %v", oneLine(err.Error()))
		}
		g.identity = id
	}
	switch {
	case g.identity.Namespace != "" && g.namespace != "" && g.namespace != g.identity.Namespace:
		return fmt.Errorf("these credentials are for namespace %q; they cannot work in %q", g.identity.Namespace, g.namespace)
	case g.identity.Namespace != "":
		g.namespace = g.identity.Namespace
	case g.namespace == "":
		g.namespace = api.DefaultNamespace
	}
	if err := api.ValidateName("namespace", g.namespace); err != nil {
		return usageErrorf("%v", err)
	}
	return nil
}

// localAdminCreds is the administrator's credentials file of a node on this
// machine with the default data directory, when url is on this machine and
// the file is there.
func localAdminCreds(serverURL string) string {
	urls := natsconn.URLs(serverURL)
	if len(urls) != 1 {
		return ""
	}
	u, err := url.Parse(urls[0])
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); !(host == "localhost" || ip != nil && ip.IsLoopback()) {
		return ""
	}
	dir, err := defaultDataDir()
	if err != nil {
		return ""
	}
	path := filepath.Join(dir, node.AdminCredsFile)
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// dial connects to the NATS server the global flags name with creds, or
// when nil with the --nkey the global flags give (else none), over TLS as
// they say.
func (e *env) dial(creds nats.Option) (*nats.Conn, error) {
	serverURL := e.global.serverURL()
	auth := e.global.auth()
	if err := auth.Validate(); err != nil {
		return nil, usageErrorf("%v", err)
	}
	opts := []nats.Option{nats.Name("natsfn " + e.cmd), nats.Timeout(connectTimeout),
		// A refusal ends the command at once, with itself as the reason,
		// rather than leave it waiting for a reply that cannot come.
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) && e.deny != nil {
				e.deny(err)
			}
		})}
	if creds == nil && auth.NKey != "" {
		nkey, err := nats.NkeyOptionFromSeed(auth.NKey)
		if err != nil {
			return nil, fmt.Errorf("nkey seed file: %v", oneLine(err.Error()))
		}
		creds = nkey
	}
	if creds != nil {
		opts = append(opts, creds)
	}
	opts = append(opts, auth.TLSOptions()...)
	nc, err := nats.Connect(serverURL, opts...)
	if err != nil {
		hint := "is a node running? start one with `natsfn up`"
		switch {
		case errors.Is(err, nats.ErrAuthorization):
			hint = "the server refused these credentials: they are for another server, expired, or their namespace was removed"
		case isTLSError(err):
			hint = "TLS failed: check --tlsca (the CA that signs the server's certificate) and --tlscert/--tlskey"
		}
		return nil, fmt.Errorf("cannot connect to NATS at %s: %v (%s)", redactURL(serverURL), oneLine(err.Error()), hint)
	}
	return nc, nil
}

// isTLSError says whether connecting failed in TLS: a certificate not
// trusted or refused, or a server that wants TLS from a client without it.
func isTLSError(err error) bool {
	msg := err.Error()
	return errors.Is(err, nats.ErrSecureConnRequired) || errors.Is(err, nats.ErrSecureConnWanted) ||
		strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:") || strings.Contains(msg, "certificate")
}

// connectAdmin connects with the administrator's credentials: --creds,
// $NATS_CREDS, or the local node's.
func (e *env) connectAdmin() (*nats.Conn, error) {
	path := e.global.credsFile()
	if path == "" {
		path = localAdminCreds(e.global.serverURL())
	}
	if path == "" {
		return nil, errors.New("no credentials: namespaces are managed with the administrator's credentials (--creds FILE; a node with the embedded server writes them to <data>/admin.creds)")
	}
	if id, err := tenancy.ReadIdentity(path); err != nil {
		return nil, fmt.Errorf("credentials: %v", oneLine(err.Error()))
	} else if id.Namespace != "" {
		return nil, fmt.Errorf("these credentials are namespace %q's, not the administrator's", id.Namespace)
	}
	return e.dial(nats.UserCredentials(path))
}

// admin connects as the administrator and returns the administrator's API
// client, and the function that closes it.
func (e *env) admin() (*client.Admin, func(), error) {
	nc, err := e.connectAdmin()
	if err != nil {
		return nil, nil, err
	}
	a, err := client.NewAdmin(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return a, nc.Close, nil
}

// connect connects as someone who works in the command's namespace: the
// holder of --creds (or $NATS_CREDS, or the local node's administrator),
// or an anonymous client. The administrator works in a namespace through
// short-lived credentials of that namespace, which the node mints. The
// caller closes the connection.
func (e *env) connect() (*nats.Conn, error) {
	path := e.global.credsFile()
	id := e.global.identity
	if path == "" && e.global.auth().NKey != "" {
		// An nkey user of a NATS system natsfn does not manage.
		return e.dial(nil)
	}
	if path == "" {
		if path = localAdminCreds(e.global.serverURL()); path != "" {
			id = tenancy.Identity{Admin: true}
		}
	}
	if path == "" {
		e.anonymous = true
		return e.dial(nil)
	}
	nc, err := e.dial(nats.UserCredentials(path))
	if err != nil || !id.Admin || !nc.AuthRequired() {
		// A server without authentication has no accounts to switch to.
		return nc, err
	}
	admin, err := client.NewAdmin(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), client.DefaultTimeout)
	defer cancel()
	creds, err := admin.NamespaceCreds(ctx, e.global.namespace, sessionTTL)
	if errors.Is(err, client.ErrNotAdmin) {
		// A NATS system whose accounts natsfn does not manage: every
		// namespace is in this one.
		return nc, nil
	}
	nc.Close()
	if err != nil {
		return nil, err
	}
	userJWT, err := jwt.ParseDecoratedJWT([]byte(creds.Creds))
	if err != nil {
		return nil, err
	}
	seed, err := jwt.ParseDecoratedUserNKey([]byte(creds.Creds))
	if err != nil {
		return nil, err
	}
	seedText, err := seed.Seed()
	if err != nil {
		return nil, err
	}
	return e.dial(nats.UserJWTAndSeed(userJWT, string(seedText)))
}

// client connects and returns a client in the command's namespace, and the
// function that closes it.
func (e *env) client() (*client.Client, func(), error) {
	nc, err := e.connect()
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(nc, client.WithNamespace(e.global.namespace))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return c, nc.Close, nil
}

// permissionHint says what to do about a refusal.
func (e *env) permissionHint() string {
	if e.anonymous {
		return "without credentials a client may only call the default namespace's functions; use --creds FILE or NATS_CREDS, and on the node's machine <data>/admin.creds"
	}
	return "these credentials do not allow it"
}

// redactURL hides the passwords (and tokens) in a server list.
func redactURL(s string) string { return natsconn.Redact(s) }
