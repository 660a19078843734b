package node

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/bench"
	"github.com/natsfn/natsfn/internal/worker"
)

// The test binary doubles as the worker process the node starts, and as
// the benchmarks' plain Go responder and KV client.
func TestMain(m *testing.M) {
	if worker.IsWorker() {
		os.Exit(worker.Main(worker.EnterSandbox))
	}
	if bench.IsResponder() {
		os.Exit(responderMain())
	}
	if os.Getenv(envKVClientOp) != "" {
		if err := kvClientMain(); err != nil {
			fmt.Fprintln(os.Stderr, "kv client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The responder process connects with what these tell it.
const (
	envResponderURL  = "NATSFN_TEST_RESPONDER_URL"
	envResponderJWT  = "NATSFN_TEST_RESPONDER_JWT"
	envResponderSeed = "NATSFN_TEST_RESPONDER_SEED"
	// or a credentials file
	envResponderCreds = "NATSFN_TEST_RESPONDER_CREDS"
)

// responderConn connects as the environment says (the responder and the
// KV client).
func responderConn() (*nats.Conn, error) {
	var opts []nats.Option
	if jwt := os.Getenv(envResponderJWT); jwt != "" {
		opts = append(opts, nats.UserJWTAndSeed(jwt, os.Getenv(envResponderSeed)))
	}
	if path := os.Getenv(envResponderCreds); path != "" {
		opts = append(opts, nats.UserCredentials(path))
	}
	return nats.Connect(os.Getenv(envResponderURL), opts...)
}

func responderMain() int {
	nc, err := responderConn()
	if err != nil {
		os.Stderr.WriteString("responder: " + err.Error() + "\n")
		return 1
	}
	defer nc.Close()
	if err := bench.ServeResponder(nc, os.Stdin, os.Stdout); err != nil {
		os.Stderr.WriteString("responder: " + err.Error() + "\n")
		return 1
	}
	return 0
}

// responderCommand runs this test binary as the Go responder, connected to
// url with a namespace's credentials (none when jwt is empty).
func responderCommand(url, jwt, seed string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envResponderURL+"="+url, envResponderJWT+"="+jwt, envResponderSeed+"="+seed)
	return cmd, nil
}

// The KV client process (BenchmarkKV's baseline in a process of its own,
// as the worker is): it makes NATSFN_TEST_KV_N calls of NATSFN_TEST_KV_OP
// (get or set of a 128-byte value) on key k of NATSFN_TEST_KV_BUCKET. It
// says "ready" once connected and warm, runs the calls when it reads a
// line, and says "done".
const (
	envKVClientOp     = "NATSFN_TEST_KV_OP"
	envKVClientN      = "NATSFN_TEST_KV_N"
	envKVClientBucket = "NATSFN_TEST_KV_BUCKET"
)

func kvClientMain() error {
	nc, err := responderConn()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, os.Getenv(envKVClientBucket))
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(os.Getenv(envKVClientN))
	v := make([]byte, 128)
	call := func() (err error) {
		if os.Getenv(envKVClientOp) == "get" {
			_, err = kv.Get(ctx, "k")
		} else {
			_, err = kv.Put(ctx, "k", v)
		}
		return err
	}
	for range 100 {
		if err := call(); err != nil {
			return err
		}
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	for range n {
		if err := call(); err != nil {
			return err
		}
	}
	fmt.Println("done")
	return nil
}
