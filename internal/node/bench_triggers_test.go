package node

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
)

// BenchmarkStreamTrigger compares a stream trigger (a JavaScript function
// that returns, so each message is acked; sandboxed worker, one node)
// with a plain Go JetStream consumer that acks each message, on the same
// server in one run: the ratio is what counts on a shared machine.
//
//	go test -run - -bench StreamTrigger -benchtime 20000x ./internal/node/
func BenchmarkStreamTrigger(b *testing.B) {
	n := startNode(b, Config{})
	c, nc := newClient(b, n)
	js := makeStream(b, nc, "BENCH", "bench.>")
	ctx := context.Background()
	publish := func(subject string, count int) {
		for i := range count {
			if _, err := js.PublishAsync(subject, []byte(strconv.Itoa(i))); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(time.Minute):
			b.Fatal("publish not acknowledged")
		}
	}
	acked := func(cons jetstream.Consumer, count int) {
		for {
			ci, err := cons.Info(ctx)
			if err == nil && ci.AckFloor.Consumer >= uint64(count) && ci.NumAckPending == 0 {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	var goRate float64
	b.Run("go", func(b *testing.B) {
		publish("bench.go", b.N)
		b.ResetTimer()
		start := time.Now()
		cons, err := js.CreateOrUpdateConsumer(ctx, "BENCH", jetstream.ConsumerConfig{Durable: "go", FilterSubject: "bench.go", AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			b.Fatal(err)
		}
		cc, err := cons.Consume(func(m jetstream.Msg) { m.Ack() })
		if err != nil {
			b.Fatal(err)
		}
		acked(cons, b.N)
		goRate = float64(b.N) / time.Since(start).Seconds()
		b.ReportMetric(goRate, "msgs/s")
		cc.Stop()
	})
	b.Run("js", func(b *testing.B) {
		publish("bench.js", b.N)
		b.ResetTimer()
		start := time.Now()
		deploySpec(b, c, api.FunctionSpec{Name: "sink", Stream: &api.StreamTrigger{Stream: "BENCH", Filter: "bench.js"}}, `(s, p) => {}`)
		cons, err := js.Consumer(ctx, "BENCH", api.ConsumerName(api.DefaultNamespace, "sink", "stream"))
		if err != nil {
			b.Fatal(err)
		}
		acked(cons, b.N)
		rate := float64(b.N) / time.Since(start).Seconds()
		b.ReportMetric(rate, "msgs/s")
		if goRate > 0 {
			b.ReportMetric(rate/goRate, "ratio")
		}
		b.StopTimer()
		c.Remove(ctx, "sink")
	})
}
