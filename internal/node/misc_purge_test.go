package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
)

// vaultSrc stores its payload, when there is one, in its KV bucket and its
// object store, and answers what both hold.
const vaultSrc = `(s, p) => {
	const kv = hostServices.kv, obj = hostServices.objectStore;
	if (p.length) { kv.set("secret", p); obj.put("file", p) }
	const v = kv.get("secret"), o = obj.get("file");
	return (v ? v.text() : "none") + "/" + (o ? o.text() : "none");
}`

// wantStreams checks which of a function's data streams exist in nc's
// account.
func wantStreams(t *testing.T, nc *nats.Conn, bucket string, want bool) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, stream := range []string{"KV_" + bucket, "OBJ_" + bucket} {
		_, err := js.Stream(context.Background(), stream)
		if got := err == nil; got != want || err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("stream %s exists: %v (%v), want %v", stream, got, err, want)
		}
	}
}

func wantReply(t *testing.T, nc *nats.Conn, payload, want string) {
	t.Helper()
	if m := invoke(t, nc, "vault", []byte(payload)); string(m.Data) != want {
		t.Fatalf("vault(%q) = %q %v, want %q", payload, m.Data, m.Header, want)
	}
}

// rm keeps a function's data unless purged and says so; a new function of
// the same name starts empty unless told to keep the data; a redeploy
// keeps it.
func TestRemoveKeepsDataRedeployStartsEmpty(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := nsClient(t, n, "acme")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := []string{"KV bucket fn_4_acme_vault", "object store fn_4_acme_vault"}

	deploy(t, c, "vault", vaultSrc, "vault")
	wantReply(t, nc, "s3cret", "s3cret/s3cret")
	removed, err := c.Remove(ctx, "vault")
	if err != nil || !slices.Equal(removed.Kept, data) || removed.Purged != nil || removed.Spec.Name != "vault" {
		t.Fatalf("rm: %+v, %v", removed, err)
	}
	wantStreams(t, nc, "fn_4_acme_vault", true)
	if _, err := c.Remove(ctx, "vault"); api.CodeOf(err) != api.CodeNotFound || !strings.Contains(err.Error(), "--purge") {
		t.Errorf("rm of a removed function whose data is left: %v", err)
	}

	// A new function under the name does not inherit the secret.
	deploy(t, c, "vault", vaultSrc, "vault")
	wantReply(t, nc, "", "none/none")

	// Unless told to keep it.
	wantReply(t, nc, "kept", "kept/kept")
	if _, err := c.Remove(ctx, "vault"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deploy(ctx, api.FunctionSpec{Name: "vault", Triggers: []string{"vault"}}, []byte(vaultSrc), client.KeepData()); err != nil {
		t.Fatal(err)
	}
	wantReply(t, nc, "", "kept/kept")
	// A redeploy keeps its data, without being told.
	deploy(t, c, "vault", vaultSrc+"\n", "vault")
	wantReply(t, nc, "", "kept/kept")

	// rm --purge deletes both.
	removed, err = c.Remove(ctx, "vault", client.Purge())
	if err != nil || !slices.Equal(removed.Purged, data) || removed.Kept != nil || removed.BundleDigest == "" {
		t.Fatalf("rm --purge: %+v, %v", removed, err)
	}
	wantStreams(t, nc, "fn_4_acme_vault", false)
	if _, err := c.Remove(ctx, "vault", client.Purge()); api.CodeOf(err) != api.CodeNotFound {
		t.Errorf("rm --purge of nothing: %v", err)
	}

	// rm --purge after a plain rm deletes what was left.
	deploy(t, c, "vault", vaultSrc, "vault")
	wantReply(t, nc, "again", "again/again")
	if _, err := c.Remove(ctx, "vault"); err != nil {
		t.Fatal(err)
	}
	removed, err = c.Remove(ctx, "vault", client.Purge())
	if err != nil || !slices.Equal(removed.Purged, data) || removed.BundleDigest != "" {
		t.Fatalf("rm --purge of left data: %+v, %v", removed, err)
	}
	wantStreams(t, nc, "fn_4_acme_vault", false)
}

// Through natsfn's own account, where the administrator's requests come,
// rm --purge and a new deploy reach the data in the namespace's account.
func TestPurgeThroughNatsfnAccount(t *testing.T) {
	n := startNode(t, Config{})
	tenant, nc := nsClient(t, n, "acme")
	admin, err := client.New(n.nc, client.WithNamespace("acme"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	deploy(t, tenant, "vault", vaultSrc, "vault")
	wantReply(t, nc, "s3cret", "s3cret/s3cret")
	removed, err := admin.Remove(ctx, "vault")
	if err != nil || len(removed.Kept) != 2 {
		t.Fatalf("rm by the administrator: %+v, %v", removed, err)
	}
	deploy(t, admin, "vault", vaultSrc, "vault")
	wantReply(t, nc, "", "none/none")
	wantReply(t, nc, "again", "again/again")
	removed, err = admin.Remove(ctx, "vault", client.Purge())
	if err != nil || len(removed.Purged) != 2 {
		t.Fatalf("rm --purge by the administrator: %+v, %v", removed, err)
	}
	wantStreams(t, nc, "fn_4_acme_vault", false)
}
