// Package natsconn is how natsfn connects to a NATS system it joins, like
// any NATS client: TLS with a client certificate and a CA of its own, an
// nkey seed file or a credentials file, user and password in the URL, and
// several comma-separated server URLs. It also hides passwords from
// whatever prints a URL.
package natsconn

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/nats.go"
)

// Auth is how a client proves who it is to the server and checks the
// server's identity. The zero value is an anonymous client that trusts
// the system's root certificates for tls:// URLs.
type Auth struct {
	// Creds is a credentials file (a user JWT and its nkey seed).
	Creds string
	// NKey is a file holding a user's nkey seed.
	NKey string
	// TLSCert and TLSKey are a client certificate and its key, in PEM
	// files, for servers that verify clients.
	TLSCert, TLSKey string
	// TLSCA is a PEM file of the certificate authorities that sign the
	// server's certificate.
	TLSCA string
}

// Validate says what is wrong with a, in the flags' words.
func (a Auth) Validate() error {
	switch {
	case a.Creds != "" && a.NKey != "":
		return errors.New("--creds and --nkey are two ways to log in: give one")
	case (a.TLSCert == "") != (a.TLSKey == ""):
		return errors.New("--tlscert and --tlskey go together: give both or neither")
	}
	return nil
}

// Options are the nats.go options that log in and set up TLS as a says.
func (a Auth) Options() ([]nats.Option, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case a.Creds != "":
		opts = append(opts, nats.UserCredentials(a.Creds))
	case a.NKey != "":
		opt, err := nats.NkeyOptionFromSeed(a.NKey)
		if err != nil {
			return nil, fmt.Errorf("nkey seed file: %w", err)
		}
		opts = append(opts, opt)
	}
	opts = append(opts, a.TLSOptions()...)
	return opts, nil
}

// TLSOptions are the TLS part of Options alone, for connections that log
// in another way.
func (a Auth) TLSOptions() []nats.Option {
	var opts []nats.Option
	if a.TLSCert != "" {
		opts = append(opts, nats.ClientCert(a.TLSCert, a.TLSKey))
	}
	if a.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.TLSCA))
	}
	return opts
}

// LogsIn says whether a carries a way to log in.
func (a Auth) LogsIn() bool { return a.Creds != "" || a.NKey != "" }

// URLs splits a server list as nats.Connect does: comma-separated, spaces
// around each URL ignored.
func URLs(servers string) []string {
	var out []string
	for _, u := range strings.Split(servers, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Redact is a server list with every password (and a token in the user
// part) replaced, so that it can be printed.
func Redact(servers string) string {
	urls := URLs(servers)
	for i, s := range urls {
		urls[i] = redactOne(s)
	}
	return strings.Join(urls, ",")
}

func redactOne(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return u.Redacted()
		}
		// nats://TOKEN@host: the user part is the secret.
		u.User = url.User("xxxxx")
		return u.String()
	}
	// Unparsable: hide everything between the scheme and the host.
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	return s[:start] + "xxxxx" + s[at:]
}
