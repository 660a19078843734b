// Package egress decides which network addresses a function's HTTP client
// may reach, and dials only those.
//
// The check runs on the address actually dialled, after name resolution, so a
// host name that resolves to a private address (DNS rebinding, "localhost",
// an internal zone) is refused like the address itself.
package egress

import (
	"fmt"
	"net/netip"
	"strings"
)

// Policy is an allow list on top of the default rule: public unicast
// addresses only. It is immutable and safe for concurrent use.
type Policy struct {
	hosts map[string]bool
	nets  []netip.Prefix
	// open lifts the default rule entirely (natsfn dev, tests).
	open bool
}

// NewPolicy parses allow, a list of host names (matched exactly, case
// insensitive) and networks ("10.1.0.0/16", or one address "10.1.2.3"). A
// host name on the list may reach whatever it resolves to. open permits
// every address.
func NewPolicy(allow []string, open bool) (*Policy, error) {
	p := &Policy{hosts: map[string]bool{}, open: open}
	for _, e := range allow {
		host, prefix, err := parseEntry(e)
		if err != nil {
			return nil, err
		}
		if host != "" {
			p.hosts[host] = true
		} else {
			p.nets = append(p.nets, prefix)
		}
	}
	return p, nil
}

// ValidateEntry checks one allow-list entry, for deploy-time validation.
func ValidateEntry(e string) error {
	_, _, err := parseEntry(e)
	return err
}

func parseEntry(e string) (host string, prefix netip.Prefix, err error) {
	s := strings.TrimSpace(e)
	if s == "" {
		return "", netip.Prefix{}, fmt.Errorf("egress: empty allow entry")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return "", netip.Prefix{}, fmt.Errorf("egress: allow entry %q is not a valid CIDR", e)
		}
		// A mapped IPv4 prefix would never match: addresses are unmapped
		// before the check.
		if p.Addr().Is4In6() {
			return "", netip.Prefix{}, fmt.Errorf("egress: allow entry %q: write IPv4 networks in IPv4 form", e)
		}
		return "", p.Masked(), nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		a = a.Unmap().WithZone("")
		return "", netip.PrefixFrom(a, a.BitLen()), nil
	}
	h := normalHost(s)
	if !validHostName(h) {
		return "", netip.Prefix{}, fmt.Errorf("egress: allow entry %q is neither a host name nor a CIDR (no ports or wildcards)", e)
	}
	return h, netip.Prefix{}, nil
}

// normalHost lowercases a host name and drops a trailing root dot, so that
// "Example.COM." and "example.com" are the same entry.
func normalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// AllowsHost reports whether host is on the allow list by name (or the
// policy is open), in which case any address it resolves to may be dialled.
func (p *Policy) AllowsHost(host string) bool {
	return p.open || p.hosts[normalHost(host)]
}

// AllowsAddr reports whether ip may be dialled: it is in an allowed network,
// or it is a public unicast address.
func (p *Policy) AllowsAddr(ip netip.Addr) bool {
	if p.open {
		return true
	}
	ip = ip.Unmap().WithZone("")
	for _, n := range p.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return isPublic(ip)
}
