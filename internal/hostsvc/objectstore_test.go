package hostsvc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestObjectStore(t *testing.T) {
	s := newServices(t, testConn(t), "default", "objfn", Config{})

	if res, _ := mustCall(t, s, "obj.list", nil); res != "[]" {
		t.Fatalf("list of an empty store = %s, want []", res)
	}
	if res, rb := mustCall(t, s, "obj.get", nil, "missing"); res != `{"found":false}` || rb != nil {
		t.Fatalf("get missing = %s %q", res, rb)
	}

	big := bytes.Repeat(allBytes(), 2000) // 512000 bytes: several chunks
	res, _ := mustCall(t, s, "obj.put", big, "dir/big.bin")
	var info objectInfo
	if err := json.Unmarshal([]byte(res), &info); err != nil {
		t.Fatal(err)
	}
	if info.Name != "dir/big.bin" || info.Size != uint64(len(big)) || !strings.HasPrefix(info.Digest, "SHA-256=") {
		t.Fatalf("put info = %s", res)
	}
	if mod, err := time.Parse(time.RFC3339, info.Modified); err != nil || time.Since(mod) > time.Minute {
		t.Fatalf("modified %q: %v", info.Modified, err)
	}
	if res, rb := mustCall(t, s, "obj.get", nil, "dir/big.bin"); res != `{"found":true}` || !bytes.Equal(rb, big) {
		t.Fatalf("get big = %s, %d bytes", res, len(rb))
	}

	mustCall(t, s, "obj.put", nil, "ключ empty")
	if res, rb := mustCall(t, s, "obj.get", nil, "ключ empty"); res != `{"found":true}` || rb == nil || len(rb) != 0 {
		t.Fatalf("get empty = %s %v", res, rb)
	}

	res, _ = mustCall(t, s, "obj.list", nil)
	var list []objectInfo
	if err := json.Unmarshal([]byte(res), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "dir/big.bin" || list[1].Name != "ключ empty" || list[0] != info {
		t.Logf("put: %+v", info)
		t.Fatalf("list = %s", res)
	}

	if res, _ := mustCall(t, s, "obj.delete", nil, "dir/big.bin"); res != "null" {
		t.Fatalf("delete = %s", res)
	}
	mustCall(t, s, "obj.delete", nil, "dir/big.bin") // a no-op, like kv.delete
	if res, _ := mustCall(t, s, "obj.get", nil, "dir/big.bin"); res != `{"found":false}` {
		t.Fatalf("get deleted = %s", res)
	}
	if res, _ := mustCall(t, s, "obj.list", nil); !strings.Contains(res, "ключ empty") || strings.Contains(res, "big") {
		t.Fatalf("list after delete = %s", res)
	}
}

func TestObjectStoreErrors(t *testing.T) {
	s := newServices(t, testConn(t), "default", "objerr", Config{Objects: ObjectsConfig{MaxObjectSize: 100, MaxBytes: 1000}})
	for _, name := range []string{"", "a\x00", "a\nb", strings.Repeat("n", maxObjectNameLen+1)} {
		for _, op := range []string{"obj.get", "obj.put", "obj.delete"} {
			_, _, e := call(t, s, op, []byte("v"), name)
			wantError(t, e, CodeObjInvalidName, "TypeError")
		}
	}
	_, _, e := call(t, s, "obj.put", []byte("v"), 7)
	wantError(t, e, CodeInvalidArgument, "TypeError")

	_, _, e = call(t, s, "obj.put", bytes.Repeat([]byte("x"), 101), "big")
	wantError(t, e, CodeTooLarge, "Error")

	var full *Error
	for i := 0; i < 30 && full == nil; i++ {
		_, _, full = call(t, s, "obj.put", bytes.Repeat([]byte("x"), 100), strings.Repeat("o", i+1))
	}
	wantError(t, full, CodeQuotaExceeded, "Error")

	off := newServices(t, testConn(t), "default", "objoff", Config{Objects: ObjectsConfig{Disabled: true}})
	_, _, e = call(t, off, "obj.list", nil)
	wantError(t, e, CodeDisabled, "Error")
}

func TestObjectStoreIsolation(t *testing.T) {
	nc := testConn(t)
	a := newServices(t, nc, "a_b", "c", Config{})
	b := newServices(t, nc, "a", "b_c", Config{})
	mustCall(t, a, "obj.put", []byte("from a"), "o")
	if res, _ := mustCall(t, b, "obj.get", nil, "o"); res != `{"found":false}` {
		t.Fatalf("b sees a's object: %s", res)
	}
	if res, _ := mustCall(t, b, "obj.list", nil); res != "[]" {
		t.Fatalf("b lists %s", res)
	}
}
