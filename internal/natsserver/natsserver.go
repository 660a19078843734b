// Package natsserver runs the real nats-server, with JetStream, inside the
// natsfn process, so `natsfn up` needs nothing else installed.
package natsserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// readyTimeout bounds the wait for the listener after Start has set it up.
const readyTimeout = 10 * time.Second

// Config says where the server listens and stores JetStream data.
type Config struct {
	// Listen is host:port; empty means 127.0.0.1:4222, port -1 a free port.
	Listen string
	// DataDir is the JetStream store directory. Required.
	DataDir string
	// ServerName names the server in cluster and JetStream metadata; empty
	// lets nats-server pick one.
	ServerName string
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// Accounts makes every client authenticate (see Trust and
	// AllowAnonymous): tenants then live in accounts of their own. Without
	// it any client may connect, into the global account.
	Accounts bool
}

// Server is a running embedded nats-server.
type Server struct {
	ns       *server.Server
	auth     *authenticator
	shutdown sync.Once
}

// Start starts the server and returns once it accepts connections.
func Start(cfg Config) (*Server, error) {
	opts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	auth := newAuthenticator(cfg.Accounts)
	opts.CustomClientAuthentication = auth
	if cfg.Accounts {
		// A client proves it holds its user key by signing this nonce.
		opts.AlwaysEnableNonce = true
		// The server passes a client's JWT on to the authenticator only
		// when it trusts some key; this one signs nothing, and the
		// authenticator decides whom to trust.
		operator, err := nkeys.CreateOperator()
		if err != nil {
			return nil, err
		}
		pub, err := operator.PublicKey()
		if err != nil {
			return nil, err
		}
		opts.TrustedKeys = []string{pub}
		// Trusted keys would have the system account come from an
		// operator; there is none, so it is made here.
		sys := server.NewAccount(server.DEFAULT_SYSTEM_ACCOUNT)
		sys.Issuer = pub
		opts.Accounts = []*server.Account{sys}
		opts.SystemAccount = server.DEFAULT_SYSTEM_ACCOUNT
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	log := newLogAdapter(cfg.Logger)
	ns.SetLoggerV2(log, log.debug, log.trace, false)

	// Start sets up JetStream and the client listener before it returns,
	// reporting failures through Fatalf rather than a returned error.
	ns.Start()
	if err := log.fatal(); err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	if !ns.ReadyForConnections(readyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("natsserver: not ready for connections after %s", readyTimeout)
	}
	return &Server{ns: ns, auth: auth}, nil
}

func (c Config) options() (*server.Options, error) {
	if c.DataDir == "" {
		return nil, errors.New("natsserver: a data directory for JetStream is required")
	}
	listen := c.Listen
	if listen == "" {
		listen = "127.0.0.1:4222"
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("natsserver: listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return nil, fmt.Errorf("natsserver: listen address %q: bad port", listen)
	}
	return &server.Options{
		ServerName: c.ServerName,
		Host:       host,
		Port:       port, // -1 is nats-server's "any free port"
		JetStream:  true,
		StoreDir:   c.DataDir,
		// The natsfn process owns signals and shutdown.
		NoSigs:                 true,
		DisableJetStreamBanner: true,
	}, nil
}

// ClientURL is the URL clients connect to, with the actual port.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Inner returns the nats-server itself, for what this package does not wrap.
func (s *Server) Inner() *server.Server { return s.ns }

// Shutdown stops the server and waits until it has stopped. It may be called
// more than once.
func (s *Server) Shutdown() {
	s.shutdown.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	})
}
