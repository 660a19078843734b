package node

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
)

// The reply subjects a dead worker leaves come from memory its tenant may
// have written: the node answers inboxes and what the namespace could
// publish on anyway, never NATS's own subjects or someone else's.
func TestOrphansAnsweredOnlyWhereAllowed(t *testing.T) {
	n := startNode(t, Config{Services: Services{AllowedSubjects: map[string][]string{"acme": {"acme.>"}}}})
	nc := nsConn(t, n, "acme")
	sub, err := nc.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	// The JetStream API, for one: an empty message there deletes a stream.
	n.answerOrphans("acme", []string{"_INBOX.caller.1", "acme.replies.2", "$JS.API.STREAM.DELETE.NATSFN_LOGS",
		"orders.cancel", "_INBOX.*", "_R_.x", ""})
	var got []string
	for {
		m, err := sub.NextMsg(200 * time.Millisecond)
		if err != nil {
			break
		}
		if m.Subject[0] == '$' && m.Subject != "$JS.API.STREAM.DELETE.NATSFN_LOGS" {
			continue // the node's own JetStream traffic
		}
		got = append(got, m.Subject)
		if code := m.Header.Get(api.HeaderErrorCode); code != "503" {
			t.Errorf("%s answered with %q", m.Subject, code)
		}
	}
	if len(got) != 2 || got[0] != "_INBOX.caller.1" || got[1] != "acme.replies.2" {
		t.Fatalf("answered %q, want the inbox and acme.replies.2 only", got)
	}
}
