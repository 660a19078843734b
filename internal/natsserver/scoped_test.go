package natsserver_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/internal/natsserver"
	"github.com/natsfn/natsfn/internal/testenv"
)

// quiet is how long a test waits to be sure a message does not come.
const quiet = 200 * time.Millisecond

// patience bounds the waits for what must come.
const patience = 5 * time.Second

// scopedConn connects nats.go over a DialScoped connection for user. The
// errors nats.go reports asynchronously (permissions violations) arrive on
// the returned channel. forget is also called when the test ends.
func scopedConn(t *testing.T, s *natsserver.Server, user *server.User, opts ...nats.Option) (nc *nats.Conn, errs <-chan error, forget func()) {
	t.Helper()
	f, forget, err := s.DialScoped(user)
	if err != nil {
		t.Fatalf("DialScoped: %v", err)
	}
	t.Cleanup(forget)
	nc, errs = testenv.ConnOver(t, f, append([]nats.Option{nats.Name(t.Name() + "-scoped")}, opts...)...)
	return nc, errs, forget
}

// start starts a server on a free port that stops when the test ends.
func start(t *testing.T) *natsserver.Server {
	t.Helper()
	s, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func plainConn(t *testing.T, s *natsserver.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), append([]nats.Option{nats.Name(t.Name()), nats.NoReconnect()}, opts...)...)
	if err != nil {
		t.Fatalf("ordinary connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// waitViolation waits for a permissions violation whose text contains want.
func waitViolation(t *testing.T, errs <-chan error, want string) {
	t.Helper()
	deadline := time.After(patience)
	for {
		select {
		case err := <-errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), "Permissions Violation") && strings.Contains(err.Error(), want) {
				return
			}
			t.Logf("other async error: %v", err)
		case <-deadline:
			t.Fatalf("no permissions violation containing %q", want)
		}
	}
}

// noViolation checks nats.go has reported no error so far.
func noViolation(t *testing.T, errs <-chan error) {
	t.Helper()
	select {
	case err := <-errs:
		t.Fatalf("unexpected async error: %v", err)
	default:
	}
}

func flush(t *testing.T, nc *nats.Conn) {
	t.Helper()
	if err := nc.FlushTimeout(patience); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// receive waits for the next message on sub, which must carry data.
func receive(t *testing.T, sub *nats.Subscription, data string) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(patience)
	if err != nil {
		t.Fatalf("%s: no message: %v", sub.Subject, err)
	}
	if string(m.Data) != data {
		t.Fatalf("%s: got %q (on %s), want %q", sub.Subject, m.Data, m.Subject, data)
	}
	return m
}

// nothing checks no message comes on sub for a while.
func nothing(t *testing.T, sub *nats.Subscription) {
	t.Helper()
	if m, err := sub.NextMsg(quiet); err == nil {
		t.Fatalf("%s: got %q on %s, want nothing", sub.Subject, m.Data, m.Subject)
	} else if !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("%s: %v", sub.Subject, err)
	}
}

// canDoAnything checks nc has full permissions: it publishes and subscribes
// on ordinary, wildcard and reserved subjects, and JetStream answers it.
func canDoAnything(t *testing.T, nc *nats.Conn) {
	t.Helper()
	all, err := nc.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Unsubscribe()
	inbox, err := nc.SubscribeSync("_INBOX.anything.>")
	if err != nil {
		t.Fatal(err)
	}
	defer inbox.Unsubscribe()
	flush(t, nc)
	for _, subj := range []string{"orders.new", "_INBOX.anything.1"} {
		if err := nc.Publish(subj, []byte(subj)); err != nil {
			t.Fatal(err)
		}
		if m := receive(t, all, subj); m.Subject != subj {
			t.Fatalf("'>' got %s, want %s", m.Subject, subj)
		}
	}
	receive(t, inbox, "_INBOX.anything.1")
	if _, err := nc.Request("$JS.API.INFO", nil, patience); err != nil {
		t.Fatalf("JetStream API request: %v", err)
	}
	flush(t, nc)
	if err := nc.LastError(); err != nil {
		t.Fatalf("last error: %v", err)
	}
}

// connInfo finds the server's view of the connection named name.
func connInfo(t *testing.T, s *natsserver.Server, name string) *server.ConnInfo {
	t.Helper()
	cz, err := s.Inner().Connz(&server.ConnzOptions{Username: true, Limit: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cz.Conns {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no connection named %q", name)
	return nil
}

func noPublishUser() *server.User {
	return &server.User{
		Username: "scoped-test",
		Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Deny: []string{">"}},
		},
	}
}

func TestScopedConnectionIsRestricted(t *testing.T) {
	s := start(t)
	plain := plainConn(t, s)
	scoped, errs, _ := scopedConn(t, s, noPublishUser())

	// The server took the connection for the user, in the global account.
	ci := connInfo(t, s, t.Name()+"-scoped")
	if ci.AuthorizedUser != "scoped-test" {
		t.Errorf("scoped connection's user = %q, want scoped-test", ci.AuthorizedUser)
	}
	if ci.Account != "" { // connz leaves the global account out
		t.Errorf("scoped connection's account = %q, want the global account", ci.Account)
	}

	// Subscribing is not restricted, and it shares the ordinary clients'
	// account: it hears them.
	in, err := scoped.SubscribeSync("scoped.in")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, scoped)
	if err := plain.Publish("scoped.in", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	receive(t, in, "hello")
	noViolation(t, errs)

	// Publishing is refused.
	out, err := plain.SubscribeSync("scoped.out")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, plain)
	if err := scoped.Publish("scoped.out", []byte("leak")); err != nil {
		t.Fatal(err)
	}
	flush(t, scoped)
	waitViolation(t, errs, `Publish to "scoped.out"`)
	nothing(t, out)

	// The violation leaves the connection up.
	if !scoped.IsConnected() {
		t.Fatal("scoped connection closed after a violation")
	}
}

func TestScopedConnectionIgnoresCredentials(t *testing.T) {
	s := start(t)
	plain := plainConn(t, s)
	// Whatever it presents, the scoped connection is its user.
	scoped, errs, _ := scopedConn(t, s, noPublishUser(), nats.UserInfo("admin", "admin"))
	if got := connInfo(t, s, t.Name()+"-scoped").AuthorizedUser; got != "scoped-test" {
		t.Errorf("scoped connection's user = %q, want scoped-test", got)
	}
	out, err := plain.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, plain)
	if err := scoped.Publish("scoped.out", []byte("leak")); err != nil {
		t.Fatal(err)
	}
	flush(t, scoped)
	waitViolation(t, errs, `Publish to "scoped.out"`)
	nothing(t, out)
}

func TestScopedOrdinaryClientsUnaffected(t *testing.T) {
	s := start(t)
	// A scoped connection is open, and ordinary clients are not restricted.
	scopedConn(t, s, noPublishUser())

	t.Run("no credentials", func(t *testing.T) {
		nc := plainConn(t, s)
		ci := connInfo(t, s, t.Name())
		if ci.Account != "" || ci.AuthorizedUser != "" {
			t.Errorf("account %q, user %q: want the global account, no user", ci.Account, ci.AuthorizedUser)
		}
		canDoAnything(t, nc)
	})
	t.Run("any credentials", func(t *testing.T) {
		// As without authentication, credentials are ignored.
		canDoAnything(t, plainConn(t, s, nats.UserInfo("someone", "whatever")))
	})
	t.Run("token", func(t *testing.T) {
		canDoAnything(t, plainConn(t, s, nats.Token("whatever")))
	})
}

func TestScopedForget(t *testing.T) {
	s := start(t)
	plain := plainConn(t, s)
	scoped, errs, forget := scopedConn(t, s, noPublishUser())
	forget()
	forget() // harmless twice

	// New ordinary connections are as ever.
	canDoAnything(t, plainConn(t, s))

	// The scoped connection keeps what it was given at CONNECT.
	out, err := plain.SubscribeSync("scoped.out")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, plain)
	if err := scoped.Publish("scoped.out", []byte("leak")); err != nil {
		t.Fatal(err)
	}
	flush(t, scoped)
	waitViolation(t, errs, `Publish to "scoped.out"`)
	nothing(t, out)

	// And a fresh scoped connection is restricted too, while the others
	// stay unrestricted.
	again, errs2, _ := scopedConn(t, s, noPublishUser())
	if err := again.Publish("scoped.out", []byte("leak")); err != nil {
		t.Fatal(err)
	}
	flush(t, again)
	waitViolation(t, errs2, `Publish to "scoped.out"`)
	nothing(t, out)
	canDoAnything(t, plainConn(t, s))
}
