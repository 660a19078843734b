package hostsvc

import (
	"context"
	"testing"
)

// BenchmarkKV compares kv.get and kv.set through Call (argument decoding,
// validation, error mapping) with the plain jetstream calls on the same
// bucket and server.
func BenchmarkKV(b *testing.B) {
	s := newServices(b, testConn(b), "default", "bench", Config{})
	ctx := context.Background()
	value := make([]byte, 128)
	args := []byte(`["bench.key"]`)
	if _, _, err := s.Call(ctx, "kv.set", args, value); err != nil {
		b.Fatal(err)
	}
	kv, err := s.kvBucket(ctx)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("get/Call", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.Call(ctx, "kv.get", args, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get/jetstream", func(b *testing.B) {
		for b.Loop() {
			if _, err := kv.Get(ctx, "bench.key"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("set/Call", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.Call(ctx, "kv.set", args, value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("set/jetstream", func(b *testing.B) {
		for b.Loop() {
			if _, err := kv.Put(ctx, "bench.key", value); err != nil {
				b.Fatal(err)
			}
		}
	})
}
