package node

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/client"
)

// Every node of a NATS system answers the administrator's roll call; a
// tenant gets no answer.
func TestNodesListed(t *testing.T) {
	a := startNode(t, Config{Name: "node-a"})
	c, _ := newClient(t, a)
	deploy(t, c, "echo", `(s, p) => p`, "echo")
	startNode(t, Config{ServerURL: a.ClientURL(), Creds: a.AdminCreds(), Name: "node-b"})

	nc, err := nats.Connect(a.ClientURL(), nats.UserCredentials(a.AdminCreds()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	admin, _ := client.NewAdmin(nc)
	nodes, err := admin.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Name != "node-a" || nodes[1].Name != "node-b" {
		t.Fatalf("nodes: %+v", nodes)
	}
	if !nodes[0].Embedded || nodes[1].Embedded || nodes[0].Functions != 1 || nodes[1].Functions != 1 || nodes[0].Namespaces < 1 {
		t.Errorf("nodes: %+v", nodes)
	}

	tenant, _ := client.NewAdmin(nsConn(t, a, "team"))
	if _, err := tenant.Nodes(context.Background()); err == nil {
		t.Error("a tenant listed the nodes")
	}
}
