package testenv

import (
	"errors"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
)

// ConnOver connects nats.go over a socket dialled elsewhere (as a worker
// does with the one the node hands it) and closes it when the test ends.
// The errors nats.go reports asynchronously, such as permissions
// violations, arrive on the returned channel.
func ConnOver(t testing.TB, f *os.File, opts ...nats.Option) (*nats.Conn, <-chan error) {
	t.Helper()
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	errs := make(chan error, 64)
	opts = append([]nats.Option{
		nats.Name(t.Name()),
		nats.SetCustomDialer(&onceDialer{conn: c}),
		nats.SkipHostLookup(),
		nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}),
	}, opts...)
	nc, err := nats.Connect("nats://127.0.0.1:4222", opts...)
	if err != nil {
		c.Close()
		t.Fatalf("testenv: connect over the handed socket: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

// onceDialer gives nats.go the one connection there is.
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
		return nil, errors.New("testenv: the handed connection is used up")
	}
	return c, nil
}
