package cli_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsfn/natsfn/internal/node"
	"github.com/natsfn/natsfn/internal/testenv"
)

// Client commands reach a node over TLS with a client certificate, from
// flags or from the nats CLI's environment variables, and say what is
// wrong when TLS fails; a password is never printed.
func TestClientOverTLS(t *testing.T) {
	certs := testenv.TLS(t)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir(), TLS: true, TLSVerify: true, TLSConfig: certs.ServerConfig(t), TLSTimeout: 5})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	defer srv.Shutdown()
	url := fmt.Sprintf("tls://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port)
	n, err := node.Start(context.Background(), node.Config{ServerURL: url, Sandbox: "none",
		TLSCert: certs.ClientCert, TLSKey: certs.ClientKey, TLSCA: certs.CA})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()

	fn := filepath.Join(t.TempDir(), "hello.js")
	if err := os.WriteFile(fn, []byte(`(s, p) => "hi " + p.text()`), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsFlags := []string{"-s", url, "--tlscert", certs.ClientCert, "--tlskey", certs.ClientKey, "--tlsca", certs.CA}
	if code, stdout, stderr := run(t, "", append([]string{"deploy", fn, "--trigger", "hello"}, tlsFlags...)...); code != 0 {
		t.Fatalf("deploy over TLS: %d %s %s", code, stdout, stderr)
	}
	t.Setenv("NATS_CERT", certs.ClientCert)
	t.Setenv("NATS_KEY", certs.ClientKey)
	t.Setenv("NATS_CA", certs.CA)
	if code, stdout, stderr := run(t, "", "invoke", "hello", "you", "-s", url); code != 0 || strings.TrimSpace(stdout) != "hi you" {
		t.Fatalf("invoke with the environment's TLS settings: %d %q %s", code, stdout, stderr)
	}
	t.Setenv("NATS_CA", "")
	code, _, stderr := run(t, "", "ls", "-s", strings.Replace(url, "tls://", "tls://user:pa55w0rd@", 1))
	if code == 0 || !strings.Contains(stderr, "TLS") || strings.Contains(stderr, "pa55w0rd") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("without the CA: %d %q", code, stderr)
	}
	t.Setenv("NATS_KEY", "")
	if code, _, stderr := run(t, "", "ls", "-s", url, "--tlscert", certs.ClientCert); code == 0 || !strings.Contains(stderr, "--tlskey") {
		t.Errorf("a certificate without its key: %d %q", code, stderr)
	}
}
