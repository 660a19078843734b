package node

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/executor"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/natsserver"
	"github.com/natsfn/natsfn/internal/testenv"
)

// What a namespace's worker may do on its own connection, tried against a
// real server over a DialScoped connection, with an ordinary client on the
// other side.

const (
	wuQuiet    = 200 * time.Millisecond // to be sure nothing comes
	wuPatience = 5 * time.Second        // for what must come
)

func wuServer(t *testing.T) *natsserver.Server {
	t.Helper()
	s, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// wuWorker connects as namespace's worker would, over DialScoped with
// workerUser and its own inbox prefix. nats.go's asynchronous errors
// arrive on the channel.
func wuWorker(t *testing.T, s *natsserver.Server, namespace string) (*nats.Conn, <-chan error) {
	t.Helper()
	inbox := workerInbox()
	f, forget, err := s.DialScoped(workerUser(namespace, inbox, nil))
	if err != nil {
		t.Fatalf("DialScoped: %v", err)
	}
	t.Cleanup(forget)
	return testenv.ConnOver(t, f, nats.Name(t.Name()+"-worker"), nats.CustomInboxPrefix(inbox))
}

func wuClient(t *testing.T, s *natsserver.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.Name(t.Name()+"-client"), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func wuFlush(t *testing.T, nc *nats.Conn) {
	t.Helper()
	if err := nc.FlushTimeout(wuPatience); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// wuViolation waits for a permissions violation whose text contains want.
func wuViolation(t *testing.T, errs <-chan error, want string) {
	t.Helper()
	deadline := time.After(wuPatience)
	for {
		select {
		case err := <-errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), "Permissions Violation") && strings.Contains(err.Error(), want) {
				return
			}
			t.Logf("other async error: %v", err)
		case <-deadline:
			t.Fatalf("no permissions violation containing %q", want)
		}
	}
}

// wuViolations waits for a permissions violation for each of wants, in any
// order.
func wuViolations(t *testing.T, errs <-chan error, wants []string) {
	t.Helper()
	missing := map[string]bool{}
	for _, w := range wants {
		missing[w] = true
	}
	deadline := time.After(wuPatience)
	for len(missing) > 0 {
		select {
		case err := <-errs:
			found := false
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), "Permissions Violation") {
				for w := range missing {
					// The server's text ends with the subject (and queue).
					if strings.HasSuffix(err.Error(), w) {
						delete(missing, w)
						found = true
						break
					}
				}
			}
			if !found {
				t.Logf("other async error: %v", err)
			}
		case <-deadline:
			t.Fatalf("no permissions violations for %q", slices.Sorted(maps.Keys(missing)))
		}
	}
}

func wuNoError(t *testing.T, errs <-chan error) {
	t.Helper()
	select {
	case err := <-errs:
		t.Fatalf("unexpected async error: %v", err)
	default:
	}
}

// wuNothing checks no message arrives on ch for a while.
func wuNothing(t *testing.T, ch <-chan *nats.Msg, what string) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("%s: got %q on %s, want nothing", what, m.Data, m.Subject)
	case <-time.After(wuQuiet):
	}
}

func wuNext(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(wuPatience)
	if err != nil {
		t.Fatalf("%s: %v", sub.Subject, err)
	}
	return m
}

func TestWorkerUser(t *testing.T) {
	s := wuServer(t)
	client := wuClient(t, s)

	t.Run("own queue group serves and answers", func(t *testing.T) {
		w, errs := wuWorker(t, s, "a")
		sub, err := w.QueueSubscribe("a.echo", executor.QueueGroup("a", "echo"), func(m *nats.Msg) {
			m.Respond(append([]byte("echo:"), m.Data...))
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		wuFlush(t, w)
		reply, err := client.Request("a.echo", []byte("hi"), wuPatience)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		if string(reply.Data) != "echo:hi" {
			t.Fatalf("reply %q", reply.Data)
		}
		wuFlush(t, w)
		wuNoError(t, errs)
	})

	t.Run("one reply per message", func(t *testing.T) {
		w, errs := wuWorker(t, s, "a")
		sub, err := w.QueueSubscribe("a.echo", executor.QueueGroup("a", "echo"), func(m *nats.Msg) {
			m.Respond([]byte("first"))
			m.Respond([]byte("second"))
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		wuFlush(t, w)
		const inbox = "_INBOX.test.1"
		replies := make(chan *nats.Msg, 8)
		rsub, err := client.ChanSubscribe(inbox, replies)
		if err != nil {
			t.Fatal(err)
		}
		defer rsub.Unsubscribe()
		wuFlush(t, client)
		if err := client.PublishRequest("a.echo", inbox, []byte("x")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-replies:
			if string(m.Data) != "first" {
				t.Fatalf("reply %q, want first", m.Data)
			}
		case <-time.After(wuPatience):
			t.Fatal("no reply")
		}
		wuViolation(t, errs, `Publish to "`+inbox+`"`)
		wuNothing(t, replies, "second reply")
	})

	t.Run("publish refused", func(t *testing.T) {
		w, errs := wuWorker(t, s, "a")
		got := make(chan *nats.Msg, 64)
		var wants []string
		for _, c := range []struct{ subject, reply string }{
			{"orders.new", ""},
			{"a.echo", ""},
			{"_INBOX.forged", ""},
			{"$JS.API.STREAM.CREATE.evil", ""},
			{"orders.request", "_INBOX.worker"}, // a request is a publish too
		} {
			sub, err := client.ChanSubscribe(c.subject, got)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			wuFlush(t, client)
			msg := &nats.Msg{Subject: c.subject, Reply: c.reply, Data: []byte("forged")}
			if err := w.PublishMsg(msg); err != nil {
				t.Fatal(err)
			}
			wants = append(wants, `Publish to "`+c.subject+`"`)
		}
		wuFlush(t, w)
		wuViolations(t, errs, wants)
		wuNothing(t, got, "client")
		if !w.IsConnected() {
			t.Fatal("worker connection closed after violations")
		}
	})

	t.Run("subscriptions refused", func(t *testing.T) {
		// One worker tries them all; each is refused on its own.
		w, errs := wuWorker(t, s, "a")
		got := make(chan *nats.Msg, 64)
		var wants, publish []string
		for _, c := range []struct {
			subject, queue, publish string
		}{
			{"a.echo", "", "a.echo"},                         // no queue group
			{"b.echo", "natsfn.b.echo", "b.echo"},            // another namespace
			{"a.echo", "natsfn.b.echo", "a.echo"},            // another namespace's group
			{"a.echo", "natsfn.ab.echo", "a.echo"},           // a namespace a is a prefix of
			{"a.echo", "natsfn.a", "a.echo"},                 // the namespace's group itself
			{"a.echo", "natsfn.a.echo.x", "a.echo"},          // too deep
			{"a.echo", "a.echo", "a.echo"},                   // not natsfn's
			{"_INBOX.>", "natsfn.a.x", "_INBOX.secret"},      // inboxes
			{"_INBOX.secret", "natsfn.a.x", "_INBOX.secret"}, // an inbox
			{"$JS.API.>", "natsfn.a.x", "$JS.API.INFO"},      // JetStream API
			{"$JS.>", "natsfn.a.x", "$JS.ACK.x"},             // JetStream
			{"$SYS.>", "natsfn.a.x", "$SYS.x"},               // system
			{"$KV.>", "natsfn.a.x", "$KV.bucket.key"},        // KV
			{"$O.>", "natsfn.a.x", "$O.bucket.x"},            // object store
			{"$NATSFN.>", "natsfn.a.x", "$NATSFN.x"},         // natsfn's control API
			{"$SRV.>", "natsfn.a.x", "$SRV.PING"},            // services
			{"_R_.>", "natsfn.a.x", "_R_.x"},                 // old-style replies
			{"_NATSFN_W.>", "", "_NATSFN_W.other.x"},         // other workers' inboxes
			{"_NATSFN_W.other.>", "", "_NATSFN_W.other.x"},   // another worker's inbox
		} {
			var err error
			want := `Subscription to "` + c.subject + `"`
			if c.queue == "" {
				_, err = w.ChanSubscribe(c.subject, got)
			} else {
				_, err = w.ChanQueueSubscribe(c.subject, c.queue, got)
				want += ` using queue "` + c.queue + `"`
			}
			if err != nil {
				t.Fatal(err)
			}
			wants = append(wants, want)
			publish = append(publish, c.publish)
		}
		wuFlush(t, w)
		wuViolations(t, errs, wants)
		for _, subj := range publish {
			if err := client.Publish(subj, []byte("secret")); err != nil {
				t.Fatal(err)
			}
		}
		wuFlush(t, client)
		wuNothing(t, got, "worker")
	})

	t.Run("wildcard filtered at delivery", func(t *testing.T) {
		w, errs := wuWorker(t, s, "a")
		got := make(chan *nats.Msg, 64)
		sub, err := w.ChanQueueSubscribe(">", executor.QueueGroup("a", "x"), got)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		wuFlush(t, w)
		wuNoError(t, errs)
		// In order, so what passes the filter would come before a.other.
		for _, subj := range []string{"_INBOX.secret", "_INBOX.test.2", "$JS.API.INFO", "$JS.ACK.x", "$KV.bucket.key",
			"$O.bucket.x", "$NATSFN.x", "$SYS.x", "$SRV.PING", "_R_.x", "a.other"} {
			if err := client.Publish(subj, []byte(subj)); err != nil {
				t.Fatal(err)
			}
		}
		wuFlush(t, client)
		select {
		case m := <-got:
			if m.Subject != "a.other" {
				t.Fatalf("worker got %q on %s", m.Data, m.Subject)
			}
		case <-time.After(wuPatience):
			t.Fatal("a.other did not come")
		}
		wuNothing(t, got, ">")
		wuNoError(t, errs)

		// Replies to the client's own requests are inbox traffic too.
		reqs, err := client.SubscribeSync("b.secret")
		if err != nil {
			t.Fatal(err)
		}
		defer reqs.Unsubscribe()
		wuFlush(t, client)
		go client.Request("b.secret", []byte("q"), wuPatience)
		m := wuNext(t, reqs)
		// The worker sees the request (a non-reserved subject) ...
		select {
		case wm := <-got:
			if wm.Subject != "b.secret" {
				t.Fatalf("worker got %s, want b.secret", wm.Subject)
			}
		case <-time.After(wuPatience):
			t.Fatal("worker did not get b.secret")
		}
		// ... but not the answer someone else gives.
		if err := m.Respond([]byte("answer")); err != nil {
			t.Fatal(err)
		}
		wuFlush(t, client)
		wuNothing(t, got, "the reply to b.secret")
	})
}

// A worker runs kv.get, kv.set and kv.delete itself: on the namespace's
// buckets that exist, it may bind, read, write and delete keys, and
// nothing else of JetStream: no stream created, changed, purged or
// deleted, no consumer (whose deliveries go where its creator says), no
// message read from a stream that is not a bucket, nothing of natsfn's.
func TestWorkerUserBuckets(t *testing.T) {
	s := wuServer(t)
	client := wuClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner, err := jetstream.New(client)
	if err != nil {
		t.Fatal(err)
	}
	bucket := hostsvc.KVBucketName("a", "f")
	if _, err := owner.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1}); err != nil {
		t.Fatal(err)
	}
	// Streams that are not buckets: natsfn's logs, and one of the owner's
	// holding the namespace's traffic.
	for _, st := range []jetstream.StreamConfig{
		{Name: api.LogStream, Subjects: []string{api.LogPrefix + ".>"}, AllowDirect: true},
		{Name: "ORDERS", Subjects: []string{"orders.>"}, AllowDirect: true},
	} {
		if _, err := owner.CreateStream(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := owner.Publish(ctx, "orders.secret", []byte("secret")); err != nil {
		t.Fatal(err)
	}

	w, errs := wuWorker(t, s, "a")
	js, err := jetstream.New(w)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("keys of a bucket that exists", func(t *testing.T) {
		kv, err := js.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatalf("bind: %v", err)
		}
		if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatalf("put: %v", err)
		}
		e, err := kv.Get(ctx, "k")
		if err != nil || string(e.Value()) != "v" {
			t.Fatalf("get: %v %v", e, err)
		}
		if err := kv.Delete(ctx, "k"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := kv.Get(ctx, "k"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("get after delete: %v", err)
		}
		wuNoError(t, errs)
	})

	t.Run("the rest of JetStream refused", func(t *testing.T) {
		var wants []string
		for _, subject := range []string{
			"$JS.API.INFO",
			"$JS.API.STREAM.CREATE.KV_" + bucket,
			"$JS.API.STREAM.CREATE.CAPTURE",
			"$JS.API.STREAM.UPDATE.KV_" + bucket,
			"$JS.API.STREAM.DELETE.KV_" + bucket,
			"$JS.API.STREAM.PURGE.KV_" + bucket,
			"$JS.API.STREAM.MSG.GET.ORDERS",
			"$JS.API.STREAM.MSG.DELETE.KV_" + bucket,
			"$JS.API.DIRECT.GET.ORDERS",
			"$JS.API.DIRECT.GET.ORDERS.orders.secret",
			"$JS.API.DIRECT.GET.KV_" + bucket,
			"$JS.API.CONSUMER.CREATE.KV_" + bucket,
			"$JS.API.CONSUMER.CREATE.KV_" + bucket + ".c.$KV." + bucket + ".>",
			"$JS.API.CONSUMER.DURABLE.CREATE.KV_" + bucket + ".c",
			"$JS.API.STREAM.INFO." + api.LogStream,
			"$JS.API.STREAM.INFO.OBJ_" + api.UploadsBucket,
			"$JS.API.STREAM.SNAPSHOT.KV_" + bucket,
			"$JS.ACK.KV_" + bucket + ".x",
			"$O." + bucket + ".M.x",
			api.LogPrefix + ".a.f",
			"$NATSFN.v1.a.deploy",
		} {
			if err := w.PublishMsg(&nats.Msg{Subject: subject, Reply: w.NewRespInbox(), Data: []byte(`{"config":{"deliver_subject":"_INBOX.x"}}`)}); err != nil {
				t.Fatal(err)
			}
			wants = append(wants, `Publish to "`+subject+`"`)
		}
		wuFlush(t, w)
		wuViolations(t, errs, wants)
		// What jetstream would send: refused too (the refusal is an
		// asynchronous error; the request itself only ends with its ctx).
		short, stop := context.WithTimeout(ctx, time.Second)
		_, err := js.CreateKeyValue(short, jetstream.KeyValueConfig{Bucket: "fn_1_a_new"})
		stop()
		if err == nil {
			t.Fatal("the worker created a bucket")
		}
		if _, err := owner.KeyValue(ctx, "fn_1_a_new"); !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Fatalf("the worker's bucket: %v", err)
		}
		if _, err := js.KeyValue(ctx, bucket); err != nil {
			t.Fatal(err)
		}
		orders, err := owner.Stream(ctx, "ORDERS")
		if err != nil {
			t.Fatal(err)
		}
		if info, err := orders.Info(ctx); err != nil || info.State.Msgs != 1 {
			t.Fatalf("ORDERS: %v %v", info, err)
		}
	})
}
