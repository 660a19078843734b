package node

import (
	"os"
	"os/exec"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/internal/bench"
	"github.com/natsfn/natsfn/internal/worker"
)

// The test binary doubles as the worker process the node starts, and as
// the benchmarks' plain Go responder.
func TestMain(m *testing.M) {
	if worker.IsWorker() {
		os.Exit(worker.Main(worker.EnterSandbox))
	}
	if bench.IsResponder() {
		os.Exit(responderMain())
	}
	os.Exit(m.Run())
}

// The responder process connects with what these tell it.
const (
	envResponderURL  = "NATSFN_TEST_RESPONDER_URL"
	envResponderJWT  = "NATSFN_TEST_RESPONDER_JWT"
	envResponderSeed = "NATSFN_TEST_RESPONDER_SEED"
)

func responderMain() int {
	var opts []nats.Option
	if jwt := os.Getenv(envResponderJWT); jwt != "" {
		opts = append(opts, nats.UserJWTAndSeed(jwt, os.Getenv(envResponderSeed)))
	}
	nc, err := nats.Connect(os.Getenv(envResponderURL), opts...)
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
