package cli

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/client"
)

// connectTimeout bounds dialing the NATS server.
const connectTimeout = 5 * time.Second

// connect connects to the NATS server the global flags name. The caller
// closes the connection.
func (e *env) connect() (*nats.Conn, error) {
	url := e.global.serverURL()
	opts := []nats.Option{nats.Name("natsfn " + e.cmd), nats.Timeout(connectTimeout)}
	if e.global.creds != "" {
		opts = append(opts, nats.UserCredentials(e.global.creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to NATS at %s: %v (is a node running? start one with `natsfn up`)", url, err)
	}
	return nc, nil
}

// client connects and returns a client in the global namespace, and the
// function that closes it.
func (e *env) client() (*client.Client, func(), error) {
	nc, err := e.connect()
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(nc, client.WithNamespace(e.global.namespace))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return c, nc.Close, nil
}
