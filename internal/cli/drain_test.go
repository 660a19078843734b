package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/testenv"
)

// upNode runs `natsfn up` in process until ctx ends; its exit status
// arrives on the channel.
func upNode(ctx context.Context, args ...string) (out, errOut *syncBuffer, done chan int) {
	out, errOut, done = &syncBuffer{}, &syncBuffer{}, make(chan int, 1)
	go func() { done <- Run(ctx, append([]string{"up"}, args...), strings.NewReader(""), out, errOut) }()
	return out, errOut, done
}

// `natsfn nodes drain NAME` drains that node, which then exits 0 by
// itself; a name that is no node's is one line of error; SIGTERM (the
// context's end) drains `up` too, which exits 0.
func TestNodesDrain(t *testing.T) {
	addr, data := freeAddr(t), t.TempDir()
	server, creds := "nats://"+addr, filepath.Join(data, "admin.creds")
	ctxA, stopA := context.WithCancel(context.Background())
	defer stopA()
	outA, errA, doneA := upNode(ctxA, "--listen", addr, "--data", data, "--name", "node-a", "--sandbox", "none")
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), append([]string{"-s", server, "--creds", creds}, args...), strings.NewReader(""), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	nodes := func() []api.NodeInfo {
		out, _, code := run("nodes", "--json")
		var list []api.NodeInfo
		if code == 0 {
			json.Unmarshal([]byte(out), &list)
		}
		return list
	}
	testenv.Eventually(t, "node-a", func() bool { return len(nodes()) == 1 })

	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	_, errB, doneB := upNode(ctxB, "-s", server, "--creds", creds, "--name", "node-b", "--sandbox", "none")
	testenv.Eventually(t, "node-b", func() bool { return len(nodes()) == 2 })

	if _, errOut, code := run("nodes", "drain", "node-c"); code != 1 || strings.Count(errOut, "\n") != 1 ||
		!strings.Contains(errOut, `no node is named "node-c"`) || !strings.Contains(errOut, "node-a, node-b") {
		t.Fatalf("drain of no node: %d %q", code, errOut)
	}
	if _, errOut, code := run("nodes", "drain"); code != 2 || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("drain without a name: %d %q", code, errOut)
	}

	out, errOut, code := run("nodes", "drain", "node-b")
	if code != 0 || !strings.Contains(out, "node node-b is draining") || !strings.Contains(out, "node node-b drained in") {
		t.Fatalf("drain node-b: %d %q %q", code, out, errOut)
	}
	select {
	case code := <-doneB:
		if code != 0 {
			t.Fatalf("node-b exited %d after its drain: %s", code, errB.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("node-b did not exit after its drain")
	}
	if list := nodes(); len(list) != 1 || list[0].Name != "node-a" {
		t.Fatalf("nodes after the drain: %+v", list)
	}

	stopA() // what SIGTERM does
	if code := <-doneA; code != 0 {
		t.Fatalf("node-a exited %d on SIGTERM: %s", code, errA.String())
	}
	if !strings.Contains(outA.String(), "draining") || !strings.Contains(errA.String(), "drained; leaving") {
		t.Errorf("node-a did not say it drained: %q %q", outA.String(), errA.String())
	}
}
