package egress

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// DeniedError is returned when every address of a destination is refused by
// the policy. Host is the name or address as the caller gave it, never what
// it resolved to, so the error is safe to show the function.
type DeniedError struct {
	Host string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("egress: %s is not an allowed destination", e.Host)
}

// Dialer opens TCP connections for an http.Transport. It resolves the host
// itself, checks every address, and dials the checked address literally, so
// no second lookup can slip in a different answer.
type Dialer struct {
	Policy *Policy
	// Resolver looks up host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
	// Connect opens a connection to an address that passed the check; nil
	// means a plain net.Dialer. Tests replace it to keep off the network.
	Connect func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DialContext has the signature of http.Transport.DialContext.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if d.Policy.AllowsHost(host) {
		return d.connect(ctx, network, addr, "")
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		r := d.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		ips, err = r.LookupNetIP(ctx, ipNetwork(network), host)
		if err != nil {
			return nil, err
		}
	}
	var firstErr error
	for _, ip := range ips {
		if !d.Policy.AllowsAddr(ip) {
			continue
		}
		c, err := d.connect(ctx, network, net.JoinHostPort(ip.Unmap().String(), port), host)
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		return nil, &DeniedError{Host: host}
	}
	return nil, firstErr
}

// connect dials addr; a non-empty checkHost means the address must pass the
// policy again at connect time, and is reported as checkHost if refused.
func (d *Dialer) connect(ctx context.Context, network, addr, checkHost string) (net.Conn, error) {
	if d.Connect != nil {
		return d.Connect(ctx, network, addr)
	}
	nd := net.Dialer{}
	if checkHost != "" {
		// Belt and braces: the socket is refused at connect time too, should
		// anything above ever hand over an unchecked address.
		nd.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !d.Policy.AllowsAddr(ap.Addr()) {
				return &DeniedError{Host: checkHost}
			}
			return nil
		}
	}
	return nd.DialContext(ctx, network, addr)
}

func ipNetwork(network string) string {
	switch network {
	case "tcp4", "udp4":
		return "ip4"
	case "tcp6", "udp6":
		return "ip6"
	}
	return "ip"
}
