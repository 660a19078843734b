package hostsvc

import (
	"strings"
	"testing"

	"github.com/natsfn/natsfn/api"
)

func TestBucketNameCollisions(t *testing.T) {
	pairs := [][2]Identity{
		{{Namespace: "a_b", Name: "c"}, {Namespace: "a", Name: "b_c"}},
		{{Namespace: "a-b", Name: "c"}, {Namespace: "a", Name: "b-c"}},
		{{Namespace: "a_", Name: "b"}, {Namespace: "a", Name: "_b"}},
		{{Namespace: "1", Name: "1_1"}, {Namespace: "1_1", Name: "1"}},
		{{Namespace: "x", Name: "10_abcdefghij"}, {Namespace: "10_abcdefghij", Name: "x"}},
	}
	for _, p := range pairs {
		a, b := KVBucketName(p[0].Namespace, p[0].Name), KVBucketName(p[1].Namespace, p[1].Name)
		if a == b {
			t.Errorf("%v and %v share bucket %q", p[0], p[1], a)
		}
	}
}

// TestBucketNameInjective enumerates every namespace and name of up to three
// characters over the alphabet most prone to collisions.
func TestBucketNameInjective(t *testing.T) {
	alphabet := []string{"a", "1", "_", "-"}
	var words []string
	var grow func(string)
	grow = func(w string) {
		if w != "" {
			words = append(words, w)
		}
		if len(w) < 3 {
			for _, c := range alphabet {
				grow(w + c)
			}
		}
	}
	grow("")
	seen := map[string]Identity{}
	for _, ns := range words {
		for _, name := range words {
			b := KVBucketName(ns, name)
			if prev, ok := seen[b]; ok {
				t.Fatalf("%v and %v share bucket %q", prev, Identity{Namespace: ns, Name: name}, b)
			}
			seen[b] = Identity{Namespace: ns, Name: name}
		}
	}
}

func TestBucketNameLimits(t *testing.T) {
	long := strings.Repeat("z", api.MaxNameLen)
	for _, b := range []string{KVBucketName(long, long), ObjectBucketName(long, long)} {
		if len("OBJ_"+b) > 255 {
			t.Errorf("stream of %q is longer than JetStream's 255", b)
		}
		for _, c := range b {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				t.Fatalf("bucket %q holds %q", b, c)
			}
		}
	}
	if got := KVBucketName("default", "hello"); got != "fn_7_default_hello" {
		t.Errorf("KVBucketName(default, hello) = %q", got)
	}
}

func TestValidKey(t *testing.T) {
	for _, k := range []string{"a", "a.b", "A-Z_0=9/x", "a/b/c", "_kv", "x" + strings.Repeat("y", maxKeyLen-1)} {
		if !validKey(k) {
			t.Errorf("validKey(%q) = false", k)
		}
	}
	for _, k := range []string{"", ".", ".a", "a.", "a..b", "a b", "$a", "a*", "a>", "*", ">", "ключ", "a\x00", "a\n", "a:b", strings.Repeat("y", maxKeyLen+1)} {
		if validKey(k) {
			t.Errorf("validKey(%q) = true", k)
		}
	}
}

func TestValidObjectName(t *testing.T) {
	for _, n := range []string{"a", "a b", "dir/file.txt", "ключ", "$O.x", "..", strings.Repeat("y", maxObjectNameLen)} {
		if !validObjectName(n) {
			t.Errorf("validObjectName(%q) = false", n)
		}
	}
	for _, n := range []string{"", "a\x00", "a\nb", "\x7f", "\xff", strings.Repeat("y", maxObjectNameLen+1)} {
		if validObjectName(n) {
			t.Errorf("validObjectName(%q) = true", n)
		}
	}
}
