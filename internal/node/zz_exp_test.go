package node

import (
	"context"
	"runtime"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func BenchmarkZZLocked(b *testing.B) {
	n := startNode(b, Config{Sandbox: "none"})
	_, nc := newClient(b, n)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "plain_go_bench"})
	if err != nil {
		b.Fatal(err)
	}
	kv.Put(ctx, "k", make([]byte, 128))
	for _, locked := range []bool{false, true, false, true} {
		name := "free"
		if locked {
			name = "locked"
		}
		b.Run(name, func(b *testing.B) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				if locked {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
				}
				for i := 0; i < b.N; i++ {
					if _, err := kv.Get(ctx, "k"); err != nil {
						panic(err)
					}
				}
			}()
			<-done
		})
	}
}
