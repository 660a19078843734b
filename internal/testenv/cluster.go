package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is a JetStream cluster of real nats-servers in this process,
// routed to each other on 127.0.0.1. Each server keeps its ports and store
// directory across Kill and Restart, as a machine that reboots does.
type Cluster struct {
	t       testing.TB
	name    string
	mu      sync.Mutex
	servers []*server.Server // nil while killed
	opts    []server.Options
}

// NewCluster starts a cluster of size servers with JetStream and returns
// once it has a JetStream meta leader and every server is current. The
// servers stop when the test ends.
func NewCluster(t testing.TB, size int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, name: "natsfn-test", servers: make([]*server.Server, size), opts: make([]server.Options, size)}
	ports := freePorts(t, 2*size) // in one call: no port twice
	clientPorts, routePorts := ports[:size], ports[size:]
	root := t.TempDir()
	for i := range size {
		var routes []*url.URL
		for j := range size {
			if j != i {
				routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", routePorts[j])})
			}
		}
		c.opts[i] = server.Options{
			ServerName: fmt.Sprintf("s%d", i+1),
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			NoSigs:     true,
			NoLog:      true,
			JetStream:  true,
			StoreDir:   filepath.Join(root, fmt.Sprintf("s%d", i+1)),
			Cluster: server.ClusterOpts{
				Name: c.name,
				Host: "127.0.0.1",
				Port: routePorts[i],
			},
			Routes: routes,
		}
	}
	t.Cleanup(c.shutdown)
	for i := range size {
		c.start(i)
	}
	c.WaitForMetaLeader()
	return c
}

// freePorts reserves n free loopback ports below the kernel's ephemeral
// range. A port in that range can be handed, while it is free, to the
// local end of any outgoing connection or to a listener on port 0, and
// the tests around make thousands: a server restarted on its port, or
// started a moment after its port was reserved, then found it taken and
// never started. Below the range only a process that asks for the port by
// number can take it; picks are random, and each is checked by binding.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	const lowest = 10000
	ephemeral := ephemeralStart()
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000 || ephemeral-lowest < 1000 {
			t.Fatalf("testenv: no free port between %d and %d", lowest, ephemeral)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", lowest+rand.IntN(ephemeral-lowest)))
		if err != nil {
			continue // taken
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// ephemeralStart is the first port of the kernel's ephemeral range
// (Linux's default when it cannot be read).
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var low int
	if _, err := fmt.Sscan(string(b), &low); err != nil {
		return 32768
	}
	return low
}

func (c *Cluster) start(i int) {
	c.t.Helper()
	opts := c.opts[i] // NewServer keeps and changes what it is given
	opts.Routes = append([]*url.URL(nil), c.opts[i].Routes...)
	s, err := server.NewServer(&opts)
	if err != nil {
		c.t.Fatalf("testenv: server %d: %v", i, err)
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		// A server without a log says nothing of a port it could not
		// bind: look for one.
		why := ""
		for _, port := range []int{c.opts[i].Port, c.opts[i].Cluster.Port} {
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
				why += fmt.Sprintf("; port %d is taken: %v", port, err)
			} else {
				l.Close()
			}
		}
		c.t.Fatalf("testenv: server %d did not start%s", i, why)
	}
	c.mu.Lock()
	c.servers[i] = s
	c.mu.Unlock()
}

func (c *Cluster) shutdown() {
	for i := range c.servers {
		c.Kill(i)
	}
}

// Size is the number of servers, running or not.
func (c *Cluster) Size() int { return len(c.opts) }

// URL is the client URL of server i.
func (c *Cluster) URL(i int) string { return fmt.Sprintf("nats://127.0.0.1:%d", c.opts[i].Port) }

// URLs is the comma-separated client URLs of every server, as a client
// that may fail over to any of them is given.
func (c *Cluster) URLs() string {
	urls := make([]string, c.Size())
	for i := range urls {
		urls[i] = c.URL(i)
	}
	return strings.Join(urls, ",")
}

// Server returns server i, nil while it is killed.
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[i]
}

// Name is server i's name.
func (c *Cluster) Name(i int) string { return c.opts[i].ServerName }

// StoreDir is server i's JetStream store directory.
func (c *Cluster) StoreDir(i int) string { return c.opts[i].StoreDir }

// Kill stops server i, as a crash or a power cut would; a killed server
// stays killed.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	s := c.servers[i]
	c.servers[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts a killed server i again with its ports and store, and
// waits until JetStream on it is current with the cluster.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.start(i)
	c.WaitForMetaLeader()
}

// WipeAndRestart kills server i, deletes its JetStream store (its disk is
// lost) and starts it again empty.
func (c *Cluster) WipeAndRestart(i int) {
	c.t.Helper()
	c.Kill(i)
	if err := os.RemoveAll(c.opts[i].StoreDir); err != nil {
		c.t.Fatalf("testenv: wipe server %d: %v", i, err)
	}
	c.Restart(i)
}

// MetaLeader is the index of the server that leads JetStream's meta group,
// or -1 when none does (an election is under way).
func (c *Cluster) MetaLeader() int {
	for i := range c.opts {
		if s := c.Server(i); s != nil && s.JetStreamIsLeader() {
			return i
		}
	}
	return -1
}

// WaitForMetaLeader waits until a meta leader is elected and every running
// server's JetStream is current with it.
func (c *Cluster) WaitForMetaLeader() {
	c.t.Helper()
	Eventually(c.t, "a JetStream meta leader and every server current", func() bool {
		if c.MetaLeader() < 0 {
			return false
		}
		for i := range c.opts {
			if s := c.Server(i); s != nil && !s.JetStreamIsCurrent() {
				return false
			}
		}
		return true
	})
}
