package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sys/unix"

	"github.com/natsfn/natsfn/internal/natsperm"
)

// The worker's own NATS connection, when the node gives it one: a TCP
// socket the node dialled (the worker cannot dial: no network, and seccomp
// kills socket and connect). natsfn's own server knows the socket as a
// user allowed only to subscribe in the namespace's queue groups and to
// answer what it received; on another NATS system the worker logs in as
// such a user of its namespace's account, with a JWT the node minted.

// connectInherited speaks NATS over the inherited socket fd, which it
// takes over. The connection never reconnects: when it closes, closed is
// called and the worker should end, so that the node starts a fresh one.
//
// inbox is the prefix of its replies (nats.CustomInboxPrefix), the only
// subjects besides its triggers it may subscribe to: in a namespace shared
// by many clients (default), nobody else's replies. refusals hears the
// server's permission errors.
func connectInherited(fd int, name, userJWT string, seed []byte, inbox string, refusals *natsperm.Violations, log *slog.Logger, closed func()) (*nats.Conn, error) {
	// Non-blocking before os.NewFile, so the file is pollable: reads park
	// in the netpoller rather than holding a thread.
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("nats connection on fd %d: %w", fd, err)
	}
	d := &onceDialer{conn: fileConn{os.NewFile(uintptr(fd), "nats")}}
	var creds nats.Option = func(*nats.Options) error { return nil }
	if userJWT != "" {
		creds = nats.UserJWTAndSeed(userJWT, string(seed))
	}
	var prefix nats.Option = func(*nats.Options) error { return nil }
	if inbox != "" {
		prefix = nats.CustomInboxPrefix(inbox)
	}
	// An IP in the URL, and no lookup: a name would be resolved (a socket).
	return nats.Connect("nats://127.0.0.1:4222",
		creds,
		prefix,
		nats.SkipHostLookup(),
		nats.SetCustomDialer(d),
		nats.Name(name),
		nats.NoReconnect(),
		nats.Timeout(10*time.Second),
		nats.ClosedHandler(func(*nats.Conn) { closed() }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subject := ""
			if s != nil {
				subject = s.Subject
			}
			refusals.Report(err)
			log.Warn("NATS error", "subject", subject, "err", err)
		}),
	)
}

// onceDialer hands out the inherited connection once: there is nothing to
// reconnect with.
type onceDialer struct {
	mu   sync.Mutex
	conn net.Conn
}

func (d *onceDialer) Dial(network, address string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.conn
	d.conn = nil
	if c == nil {
		return nil, errors.New("the node's connection is used up")
	}
	return c, nil
}

// fileConn is a connected socket seen through os.File, which reads and
// writes through the netpoller like a net.Conn. (net.FileConn would set
// TCP options, which the worker's seccomp filter does not allow; the node
// set them before handing the socket over.)
type fileConn struct{ *os.File }

func (fileConn) LocalAddr() net.Addr  { return inheritedAddr{} }
func (fileConn) RemoteAddr() net.Addr { return inheritedAddr{} }

type inheritedAddr struct{}

func (inheritedAddr) Network() string { return "tcp" }
func (inheritedAddr) String() string  { return "inherited" }
