package egress

import "net/netip"

var (
	// A network entry never matches IPv4-mapped addresses: the policy
	// unmaps them and judges them as IPv4.
	mapped = netip.MustParsePrefix("::ffff:0:0/96")
	all4   = netip.MustParsePrefix("0.0.0.0/0")
	all6   = netip.MustParsePrefix("::/0")
)

// Covers reports whether the allow entry opens nothing that allowed (the
// operator's entries, on top of the default rule) does not open already, so
// that a function listing it gains no reach. Unparseable entries in allowed
// open nothing; an unparseable entry is never covered.
//
// A network or address is covered when each of its addresses is public or
// lies in one of the allowed networks. A host name bypasses the address
// check for whatever it resolves to, so only the same name covers it, or
// allowed networks that open every address.
func Covers(allowed []string, entry string) bool {
	host, prefix, err := parseEntry(entry)
	if err != nil {
		return false
	}
	hosts := map[string]bool{}
	var nets []netip.Prefix
	for _, a := range allowed {
		h, p, err := parseEntry(a)
		switch {
		case err != nil:
		case h != "":
			hosts[h] = true
		default:
			nets = append(nets, p)
		}
	}
	if host != "" {
		return hosts[host] || covered(nets, all4) && covered(nets, all6)
	}
	return covered(nets, prefix)
}

// covered reports whether every address of p that a network entry would
// match is reachable anyway: public, or inside one of nets.
func covered(nets []netip.Prefix, p netip.Prefix) bool {
	if contains(mapped, p) {
		return true
	}
	partly := false
	for _, n := range nets {
		if contains(n, p) {
			return true
		}
		partly = partly || n.Overlaps(p)
	}
	if allPublic(p) {
		return true
	}
	if !partly && !mapped.Overlaps(p) || p.IsSingleIP() {
		return false
	}
	// Several networks may cover p between them: look at each half.
	lo, hi := halves(p)
	return covered(nets, lo) && covered(nets, hi)
}

// contains reports whether network n holds all of p (same family).
func contains(n, p netip.Prefix) bool {
	return n.Bits() <= p.Bits() && n.Contains(p.Addr())
}

// allPublic reports whether isPublic holds for every address of p, IPv4-
// mapped ones aside (callers deal with those).
func allPublic(p netip.Prefix) bool {
	for _, b := range blocked {
		if b.Overlaps(p) {
			return false
		}
	}
	for _, g := range []struct {
		net netip.Prefix
		at  int // bit offset of the embedded IPv4 address
	}{{nat64, 96}, {sixToFour, 16}} {
		if !g.net.Overlaps(p) {
			continue
		}
		if p.Bits() < g.net.Bits() {
			return false // the whole range, so private IPv4 inside too
		}
		b := p.Addr().As16()
		v4 := netip.AddrFrom4([4]byte(b[g.at/8 : g.at/8+4]))
		return allPublic(netip.PrefixFrom(v4, min(p.Bits()-g.at, 32)).Masked())
	}
	return true
}

// halves splits p, which must not be a single address, in two.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits()
	a := p.Addr().AsSlice()
	a[bits/8] |= 0x80 >> (bits % 8)
	hi, _ := netip.AddrFromSlice(a)
	return netip.PrefixFrom(p.Addr(), bits+1), netip.PrefixFrom(hi, bits+1)
}
