package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
)

func runInvoke(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("invoke")
	var headers listFlag
	timeout := 10 * time.Second
	fs.Var(&headers, "header", "a request header `K:V`; repeatable")
	fs.DurationVar(&timeout, "timeout", timeout, "the `DURATION` to wait for the reply")
	pos, err := e.parse(fs, args, 1, 2)
	if err != nil {
		return err
	}
	subject := pos[0]
	if err := api.ValidateSubject(subject, false); err != nil {
		return usageErrorf("%v", err)
	}
	if timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	hdr := nats.Header{}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if k = strings.TrimSpace(k); !ok || k == "" || strings.ContainsAny(k, " \t\r\n") || strings.ContainsAny(v, "\r\n") {
			return usageErrorf("--header %q: want NAME:VALUE", h)
		}
		hdr.Add(k, strings.TrimSpace(v))
	}
	var payload []byte
	if len(pos) == 2 {
		payload = []byte(pos[1])
		if pos[1] == "-" {
			if payload, err = io.ReadAll(e.stdin); err != nil {
				return fmt.Errorf("read payload from stdin: %w", err)
			}
		}
	}

	c, closeConn, err := e.client()
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := c.Invoke(ctx, subject, payload, hdr)
	var apiErr *api.Error
	if errors.As(err, &apiErr) {
		// The function's own error: said as the NATS services convention has it.
		fmt.Fprintf(e.stderr, "error: %s (%d)\n", oneLine(apiErr.Message), apiErr.Code)
		return &exitStatus{code: exitError}
	}
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(reply.Data)
	return err
}
