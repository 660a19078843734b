package egress

import "net/netip"

// blocked lists the networks a function may not reach unless allowed:
// everything that is not public unicast on the Internet.
var blocked = mustPrefixes(
	// IPv4
	"0.0.0.0/8",      // "this network"; Linux routes 0.0.0.0 to the host itself
	"10.0.0.0/8",     // private
	"100.64.0.0/10",  // carrier-grade NAT, also some clouds' internal ranges
	"127.0.0.0/8",    // loopback
	"169.254.0.0/16", // link-local, cloud metadata (169.254.169.254)
	"172.16.0.0/12",  // private
	"192.0.0.0/24",   // IETF protocol assignments
	"192.168.0.0/16", // private
	"198.18.0.0/15",  // benchmarking, used inside some networks
	"224.0.0.0/4",    // multicast
	"240.0.0.0/4",    // reserved, broadcast
	// IPv6
	"::/96",          // unspecified, loopback, deprecated IPv4-compatible
	"64:ff9b:1::/48", // local-use NAT64
	"100::/64",       // discard-only
	"2001::/32",      // Teredo: hides an IPv4 address
	"fc00::/7",       // unique local
	"fe80::/10",      // link-local
	"fec0::/10",      // deprecated site-local
	"ff00::/8",       // multicast
)

// Prefixes that embed an IPv4 address a gateway would forward to: the
// embedded address must be public too.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// isPublic reports whether ip is a public unicast address. IPv4-mapped IPv6
// addresses are judged as the IPv4 address they carry.
func isPublic(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, n := range blocked {
		if n.Contains(ip) {
			return false
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return isPublic(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return isPublic(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return true
}
