package hostsvc

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestKV(t *testing.T) {
	s := newServices(t, testConn(t), "default", "kvfn", Config{})

	if res, _ := mustCall(t, s, "kv.keys", nil); res != "[]" {
		t.Fatalf("keys of an empty bucket = %s, want []", res)
	}
	if res, rb := mustCall(t, s, "kv.get", nil, "missing"); res != `{"found":false}` || rb != nil {
		t.Fatalf("get missing = %s %q", res, rb)
	}

	rev1, _ := mustCall(t, s, "kv.set", allBytes(), "bin")
	res, rb := mustCall(t, s, "kv.get", nil, "bin")
	if res != `{"found":true}` || !bytes.Equal(rb, allBytes()) {
		t.Fatalf("get bin = %s %v", res, rb)
	}
	rev2, _ := mustCall(t, s, "kv.set", []byte("v2"), "bin")
	if r1, _ := strconv.Atoi(rev1); r1 < 1 || atoi(rev2) <= r1 {
		t.Errorf("revisions %s then %s do not grow", rev1, rev2)
	}

	// An empty value and an absent body are both a present, empty value.
	mustCall(t, s, "kv.set", nil, "empty")
	if res, rb := mustCall(t, s, "kv.get", nil, "empty"); res != `{"found":true}` || rb == nil || len(rb) != 0 {
		t.Fatalf("get empty = %s %v", res, rb)
	}

	mustCall(t, s, "kv.set", []byte("x"), "a.b")
	if res, _ := mustCall(t, s, "kv.keys", nil); res != `["a.b","bin","empty"]` {
		t.Fatalf("keys = %s", res)
	}
	if res, _ := mustCall(t, s, "kv.delete", nil, "bin"); res != "null" {
		t.Fatalf("delete = %s", res)
	}
	mustCall(t, s, "kv.delete", nil, "never-set")
	if res, _ := mustCall(t, s, "kv.get", nil, "bin"); res != `{"found":false}` {
		t.Fatalf("get deleted = %s", res)
	}
	if res, _ := mustCall(t, s, "kv.keys", nil); res != `["a.b","empty"]` {
		t.Fatalf("keys after delete = %s", res)
	}
}

func TestKVErrors(t *testing.T) {
	s := newServices(t, testConn(t), "default", "kverr", Config{KV: KVConfig{MaxValueSize: 16}})
	for _, key := range []string{"", ".a", "a.", "a..b", "a b", "$KV", "a*", "a>", "ключ", strings.Repeat("k", maxKeyLen+1)} {
		for _, op := range []string{"kv.get", "kv.set", "kv.delete"} {
			_, _, e := call(t, s, op, []byte("v"), key)
			wantError(t, e, CodeKVInvalidKey, "TypeError")
		}
	}
	for _, args := range [][]any{nil, {nil}, {1}, {true}, {[]string{"a"}}, {map[string]any{}}} {
		_, _, e := call(t, s, "kv.get", nil, args...)
		wantError(t, e, CodeInvalidArgument, "TypeError")
		if !strings.Contains(e.Message, "key") {
			t.Errorf("message %q does not name the argument", e.Message)
		}
	}
	for _, raw := range []string{`{}`, `"a"`, `[`, `nul`, `1`} {
		_, _, err := s.Call(testCtx(t), "kv.get", []byte(raw), nil)
		wantError(t, err.(*Error), CodeInvalidArgument, "TypeError")
	}

	_, _, e := call(t, s, "kv.set", bytes.Repeat([]byte("x"), 17), "big")
	wantError(t, e, CodeTooLarge, "Error")
	mustCall(t, s, "kv.set", bytes.Repeat([]byte("x"), 16), "fits")

	_, _, err := s.Call(testCtx(t), "kv.nope", nil, nil)
	wantError(t, err.(*Error), CodeInvalidArgument, "TypeError")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, e = callCtx(t, ctx, s, "kv.get", nil, "a")
	wantError(t, e, CodeCancelled, "Error")
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, _, e = callCtx(t, ctx, s, "kv.set", []byte("v"), "a")
	wantError(t, e, CodeTimeout, "Error")
}

func TestKVQuota(t *testing.T) {
	s := newServices(t, testConn(t), "default", "kvfull", Config{KV: KVConfig{MaxValueSize: 512, MaxBucketBytes: 4096}})
	value := bytes.Repeat([]byte("x"), 500)
	for i := 0; ; i++ {
		_, _, e := call(t, s, "kv.set", value, fmt.Sprintf("k%d", i))
		if e != nil {
			wantError(t, e, CodeQuotaExceeded, "Error")
			break
		}
		if i > 20 {
			t.Fatal("a 4 KiB bucket took 10 KB")
		}
	}
}

func TestKVDisabled(t *testing.T) {
	s := newServices(t, testConn(t), "default", "off", Config{KV: KVConfig{Disabled: true}})
	for _, op := range []string{"kv.get", "kv.set", "kv.delete", "kv.keys"} {
		_, _, e := call(t, s, op, nil, "k")
		wantError(t, e, CodeDisabled, "Error")
	}
}

// TestKVIsolation writes through two functions whose namespace and name
// would collide under a naive ns_name join.
func TestKVIsolation(t *testing.T) {
	nc := testConn(t)
	a := newServices(t, nc, "a_b", "c", Config{})
	b := newServices(t, nc, "a", "b_c", Config{})
	mustCall(t, a, "kv.set", []byte("from a"), "k")
	mustCall(t, a, "kv.set", []byte("only a"), "a-only")
	if res, _ := mustCall(t, b, "kv.get", nil, "k"); res != `{"found":false}` {
		t.Fatalf("b sees a's key: %s", res)
	}
	mustCall(t, b, "kv.set", []byte("from b"), "k")
	if _, rb := mustCall(t, a, "kv.get", nil, "k"); string(rb) != "from a" {
		t.Fatalf("a reads %q", rb)
	}
	if res, _ := mustCall(t, b, "kv.keys", nil); res != `["k"]` {
		t.Fatalf("b keys = %s", res)
	}

	// The longest names fit JetStream's limits.
	long := strings.Repeat("n", 64)
	l := newServices(t, nc, long, long, Config{})
	mustCall(t, l, "kv.set", []byte("v"), "k")
	mustCall(t, l, "obj.put", []byte("v"), "o")
}

// TestKVHammer creates the bucket lazily under many concurrent callers, as
// several isolates of one function would.
func TestKVHammer(t *testing.T) {
	s := newServices(t, testConn(t), "default", "hammer", Config{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				key := fmt.Sprintf("g%d.k%d", g, i)
				want := []byte(key)
				if _, _, e := call(t, s, "kv.set", want, key); e != nil {
					t.Error(e)
					return
				}
				if _, rb, e := call(t, s, "kv.get", nil, key); e != nil || !bytes.Equal(rb, want) {
					t.Errorf("get %s = %q, %v", key, rb, e)
					return
				}
			}
		}()
	}
	wg.Wait()
	res, _ := mustCall(t, s, "kv.keys", nil)
	if n := strings.Count(res, ","); n != 8*20-1 {
		t.Fatalf("keys holds %d entries", n+1)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// TestKVSharedBucket opens one function's services several times at once,
// as several nodes or workers do, and all must land in one bucket.
func TestKVSharedBucket(t *testing.T) {
	nc := testConn(t)
	var wg sync.WaitGroup
	for i := range 4 {
		s := newServices(t, nc, "default", "shared", Config{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, e := call(t, s, "kv.set", []byte("v"), fmt.Sprintf("k%d", i)); e != nil {
				t.Error(e)
			}
		}()
	}
	wg.Wait()
	s := newServices(t, nc, "default", "shared", Config{})
	if res, _ := mustCall(t, s, "kv.keys", nil); res != `["k0","k1","k2","k3"]` {
		t.Fatalf("keys = %s", res)
	}
}
