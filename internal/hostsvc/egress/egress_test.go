package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestIsPublic(t *testing.T) {
	public := []string{
		"8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
		"2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	private := []string{
		"127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255",
		"192.168.1.1", "169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.255", "0.0.0.0",
		"0.1.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.170", "198.18.0.1",
		"::", "::1", "::127.0.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
		"fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "fec0::1", "ff02::1", "ff0e::1",
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2002:7f00:1::", "2002:a00:1::", "2001::1", "100::1",
	}
	for _, s := range public {
		if !isPublic(netip.MustParseAddr(s)) {
			t.Errorf("isPublic(%s) = false", s)
		}
	}
	for _, s := range private {
		if isPublic(netip.MustParseAddr(s)) {
			t.Errorf("isPublic(%s) = true", s)
		}
	}
	if isPublic(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
}

func TestPolicy(t *testing.T) {
	p, err := NewPolicy([]string{"API.Example.com.", "10.1.0.0/16", "192.168.1.7", "fd00::/8", "[::1]"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"api.example.com", "API.EXAMPLE.COM", "api.example.com."} {
		if !p.AllowsHost(h) {
			t.Errorf("AllowsHost(%q) = false", h)
		}
	}
	for _, h := range []string{"example.com", "x.api.example.com", "10.1.2.3", "localhost"} {
		if p.AllowsHost(h) {
			t.Errorf("AllowsHost(%q) = true", h)
		}
	}
	for _, a := range []string{"10.1.2.3", "::ffff:10.1.2.3", "192.168.1.7", "fd00::5", "::1", "8.8.8.8"} {
		if !p.AllowsAddr(netip.MustParseAddr(a)) {
			t.Errorf("AllowsAddr(%s) = false", a)
		}
	}
	for _, a := range []string{"10.2.0.1", "192.168.1.8", "127.0.0.1", "fc00::1", "169.254.169.254"} {
		if p.AllowsAddr(netip.MustParseAddr(a)) {
			t.Errorf("AllowsAddr(%s) = true", a)
		}
	}
	for _, bad := range []string{"", " ", "*.example.com", "example.com:443", "http://example.com", "10.0.0.0/33", "::ffff:10.0.0.0/104", "-a.com", "a..b", "exa mple.com"} {
		if ValidateEntry(bad) == nil {
			t.Errorf("ValidateEntry(%q) = nil", bad)
		}
		if _, err := NewPolicy([]string{bad}, false); err == nil {
			t.Errorf("NewPolicy(%q) accepted it", bad)
		}
	}
	open, _ := NewPolicy(nil, true)
	if !open.AllowsAddr(netip.MustParseAddr("127.0.0.1")) || !open.AllowsHost("anything") {
		t.Error("an open policy refuses")
	}
}

// recorder stands in for the network: it notes where the Dialer would
// connect and refuses.
type recorder struct {
	mu    sync.Mutex
	addrs []string
}

var errRecorded = errors.New("recorded, not dialled")

func (r *recorder) connect(_ context.Context, _, addr string) (net.Conn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs = append(r.addrs, addr)
	return nil, errRecorded
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.addrs
	r.addrs = nil
	return a
}

func TestDialer(t *testing.T) {
	resolver := fakeDNS(t, map[string][]string{
		"rebind.test.": {"127.0.0.1"},
		"meta.test.":   {"169.254.169.254"},
		"v6.test.":     {"::1", "fe80::1"},
		"mixed.test.":  {"10.0.0.1", "93.184.216.34"},
		"public.test.": {"8.8.8.8"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	cases := []struct {
		allow  []string
		addr   string
		denied bool
		dialed []string
	}{
		{nil, "127.0.0.1:80", true, nil},
		{nil, "[::1]:80", true, nil},
		{nil, "[::ffff:127.0.0.1]:80", true, nil},
		{nil, "169.254.169.254:80", true, nil},
		{nil, "0.0.0.0:80", true, nil},
		{nil, "10.1.2.3:443", true, nil},
		{nil, "[fe80::1%lo]:80", true, nil},
		{nil, "rebind.test:80", true, nil},
		{nil, "meta.test:80", true, nil},
		{nil, "v6.test:80", true, nil},
		{nil, "mixed.test:80", false, []string{"93.184.216.34:80"}},
		{nil, "public.test:443", false, []string{"8.8.8.8:443"}},
		{nil, "8.8.8.8:53", false, []string{"8.8.8.8:53"}},
		{nil, "[::ffff:8.8.8.8]:53", false, []string{"8.8.8.8:53"}},
		{[]string{"rebind.test"}, "rebind.test:80", false, []string{"rebind.test:80"}},
		{[]string{"127.0.0.0/8"}, "rebind.test:80", false, []string{"127.0.0.1:80"}},
		{[]string{"127.0.0.0/8"}, "v6.test:80", true, nil},
		{[]string{"10.0.0.1"}, "mixed.test:80", false, []string{"10.0.0.1:80", "93.184.216.34:80"}},
	}
	for _, c := range cases {
		p, err := NewPolicy(c.allow, false)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		d := &Dialer{Policy: p, Resolver: resolver, Connect: rec.connect}
		_, err = d.DialContext(ctx, "tcp", c.addr)
		var denied *DeniedError
		if got := errors.As(err, &denied); got != c.denied {
			t.Errorf("allow %v, dial %s: err %v, want denied=%v", c.allow, c.addr, err, c.denied)
		}
		if got := rec.take(); !slices.Equal(got, c.dialed) {
			t.Errorf("allow %v, dial %s: connected to %v, want %v", c.allow, c.addr, got, c.dialed)
		}
	}
}

// TestDialerReal connects for real to a loopback listener, once allowed and
// once refused, and checks the connect-time guard on its own.
func TestDialerReal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	allowed, _ := NewPolicy([]string{"127.0.0.1"}, false)
	c, err := (&Dialer{Policy: allowed}).DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("allowed loopback: %v", err)
	}
	c.Close()

	closed, _ := NewPolicy(nil, false)
	d := &Dialer{Policy: closed}
	var denied *DeniedError
	if _, err := d.DialContext(ctx, "tcp", ln.Addr().String()); !errors.As(err, &denied) {
		t.Fatalf("refused loopback: %v", err)
	}
	if _, err := d.connect(ctx, "tcp", ln.Addr().String(), "example.com"); !errors.As(err, &denied) || denied.Host != "example.com" {
		t.Fatalf("connect-time guard: %v", err)
	}
}
