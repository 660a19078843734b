package egress

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestCovers(t *testing.T) {
	cases := []struct {
		allowed []string
		entry   string
		want    bool
	}{
		// Nothing allowed: only what the default rule opens anyway.
		{nil, "0.0.0.0/0", false},
		{nil, "::/0", false},
		{nil, "127.0.0.1", false},
		{nil, "::1", false},
		{nil, "[::1]", false},
		{nil, "::ffff:127.0.0.1", false},
		{nil, "169.254.169.254", false},
		{nil, "10.0.0.0/8", false},
		{nil, "0.0.0.0", false},
		{nil, "64:ff9b::/96", false},
		{nil, "64:ff9b::7f00:1", false},
		{nil, "2002::/16", false},
		{nil, "2002:7f00:1::/48", false},
		{nil, "8.8.8.8", true},
		{nil, "::ffff:8.8.8.8", true},
		{nil, "8.0.0.0/7", true},
		{nil, "2606:4700::/32", true},
		{nil, "64:ff9b::808:808", true},
		{nil, "64:ff9b::808:800/120", true},
		{nil, "2002:808:808::/48", true},
		{nil, "2002:808::/32", true},
		{nil, "2002:a00::/24", false},
		{nil, "api.example.com", false},

		// Operator networks.
		{[]string{"127.0.0.0/8"}, "127.0.0.1", true},
		{[]string{"127.0.0.0/8"}, "::ffff:127.0.0.1", true},
		{[]string{"127.0.0.0/8"}, "127.0.0.0/8", true},
		{[]string{"127.0.0.0/9"}, "127.0.0.0/8", false},
		{[]string{"127.0.0.0/8"}, "126.0.0.0/7", true}, // 126/8 is public
		{[]string{"127.0.0.1"}, "127.0.0.0/8", false},
		{[]string{"127.0.0.1"}, "127.0.0.1/32", true},
		{[]string{"::ffff:127.0.0.1"}, "127.0.0.1", true},
		{[]string{"10.0.0.0/8"}, "10.1.0.0/16", true},
		{[]string{"10.1.0.0/16"}, "10.0.0.0/8", false},
		{[]string{"10.0.0.0/9", "10.128.0.0/9"}, "10.0.0.0/8", true},
		{[]string{"10.0.0.0/9"}, "10.0.0.0/8", false},
		{[]string{"10.0.0.0/8"}, "0.0.0.0/0", false},
		{[]string{"0.0.0.0/0"}, "0.0.0.0/0", true},
		{[]string{"0.0.0.0/0"}, "127.0.0.1", true},
		{[]string{"0.0.0.0/0"}, "::/0", false},
		{[]string{"0.0.0.0/0"}, "::1", false},
		{[]string{"::/0"}, "::/0", true},
		{[]string{"::/0"}, "0.0.0.0/0", false},
		{[]string{"::/0"}, "::1", true},
		// IPv6 networks never match IPv4-mapped addresses, so ::/0 opens no
		// IPv4 address and an operator's IPv4 network covers what ::/0 would.
		{[]string{"::/96", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "100::/64", "2001::/32", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16"}, "::/0", true},
		{[]string{"fd00::/8"}, "fc00::/7", false},
		{[]string{"fc00::/7"}, "fd12:3456::/32", true},
		// A private range made of public parts and an allowed part.
		{[]string{"172.16.0.0/12"}, "172.0.0.0/8", true},
		{[]string{"172.16.0.0/13"}, "172.0.0.0/8", false},

		// Host names.
		{[]string{"api.example.com"}, "api.example.com", true},
		{[]string{"API.Example.COM."}, "api.example.com", true},
		{[]string{"api.example.com"}, "Api.Example.Com.", true},
		{[]string{"example.com"}, "api.example.com", false},
		{[]string{"api.example.com"}, "example.com", false},
		{[]string{"0.0.0.0/0"}, "api.example.com", false},
		{[]string{"0.0.0.0/0", "::/0"}, "api.example.com", true},
		{[]string{"localhost"}, "127.0.0.1", false},
		{[]string{"127.0.0.1"}, "localhost", false},

		// Garbage never covers nor is covered.
		{[]string{"0.0.0.0/0", "::/0"}, "", false},
		{[]string{"0.0.0.0/0", "::/0"}, "*.example.com", false},
		{[]string{"0.0.0.0/0", "::/0"}, "10.0.0.0/33", false},
		{[]string{"0.0.0.0/0", "::/0"}, "::ffff:10.0.0.0/104", false},
		{[]string{"0.0.0.0/0", "::/0"}, "example.com:443", false},
		{[]string{"*"}, "127.0.0.1", false},
		{[]string{"127.0.0.0/33", "http://127.0.0.1"}, "127.0.0.1", false},
		{[]string{"*.example.com"}, "api.example.com", false},
	}
	for _, c := range cases {
		if got := Covers(c.allowed, c.entry); got != c.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", c.allowed, c.entry, got, c.want)
		}
	}
}

// Covers agrees with the policy: where an entry is covered, adding it to
// the allow list lets no sampled address through that was refused before.
func TestCoversMatchesPolicy(t *testing.T) {
	allowed := []string{"10.0.0.0/9", "10.128.0.0/9", "127.0.0.1", "fd00::/8", "2002:a00::/24"}
	before, err := NewPolicy(allowed, false)
	if err != nil {
		t.Fatal(err)
	}
	samples := []string{
		"10.0.0.1", "10.200.1.1", "127.0.0.1", "127.0.0.2", "169.254.169.254", "8.8.8.8", "0.0.0.0",
		"::1", "fd00::1", "fc00::1", "64:ff9b::7f00:1", "64:ff9b::808:808", "2002:a00:1::", "2002:7f00:1::",
		"::ffff:127.0.0.2", "::ffff:10.1.1.1", "2606:4700::1",
	}
	for _, entry := range []string{"10.0.0.0/8", "127.0.0.1", "127.0.0.0/8", "fd00::/8", "fc00::/7", "::/0", "0.0.0.0/0", "2002::/16", "2002:a00::/24", "64:ff9b::/96", "8.8.8.8"} {
		after, err := NewPolicy(append(append([]string(nil), allowed...), entry), false)
		if err != nil {
			t.Fatal(err)
		}
		widens := false
		for _, s := range samples {
			a := netip.MustParseAddr(s)
			if after.AllowsAddr(a) && !before.AllowsAddr(a) {
				widens = true
			}
		}
		if Covers(allowed, entry) && widens {
			t.Errorf("Covers(%q) but it lets more through", entry)
		}
		if !Covers(allowed, entry) && !widens {
			t.Errorf("%s: not covered, but no sample shows why", entry)
		}
	}
}

// Random entries against random operator lists: every address inside a
// covered entry is one the operator's policy already allows.
func TestCoversRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// Prefixes near the interesting ranges, so that covering happens.
	bases := []string{"10.0.0.0", "127.0.0.0", "169.254.0.0", "172.16.0.0", "100.64.0.0", "0.0.0.0", "8.0.0.0",
		"fd00::", "fe80::", "::", "64:ff9b::", "2002::", "2002:a00::", "2606:4700::"}
	randPrefix := func() netip.Prefix {
		a := netip.MustParseAddr(bases[r.IntN(len(bases))])
		return netip.PrefixFrom(a, r.IntN(a.BitLen()+1)).Masked()
	}
	randAddr := func(p netip.Prefix) netip.Addr {
		b := p.Addr().AsSlice()
		for i := p.Bits(); i < len(b)*8; i++ {
			if r.IntN(2) == 1 {
				b[i/8] |= 0x80 >> (i % 8)
			}
		}
		a, _ := netip.AddrFromSlice(b)
		return a
	}
	covered := 0
	for range 3000 {
		var allowed []string
		for range r.IntN(4) {
			allowed = append(allowed, randPrefix().String())
		}
		entry := randPrefix()
		if !Covers(allowed, entry.String()) {
			continue
		}
		covered++
		policy, err := NewPolicy(allowed, false)
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			// Half the time aim at a refused range inside the entry.
			in := entry
			if b := blocked[r.IntN(len(blocked))]; r.IntN(2) == 0 && b.Overlaps(entry) && b.Bits() > entry.Bits() {
				in = b
			}
			if a := randAddr(in); !policy.AllowsAddr(a) && !mapped.Contains(a) {
				t.Fatalf("Covers(%q, %s), but %s is refused", allowed, entry, a)
			}
		}
	}
	if covered < 100 {
		t.Fatalf("only %d covered cases", covered)
	}
}
