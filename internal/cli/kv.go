package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/hostsvc"
)

// kvTimeout bounds one kv command.
const kvTimeout = 10 * time.Second

func runKV(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("kv")
	pos, err := e.parse(fs, args, 2, 4)
	if err != nil {
		return err
	}
	name, op, rest := pos[0], pos[1], pos[2:]
	if err := api.ValidateName("name", name); err != nil {
		return usageErrorf("%v", err)
	}
	want := map[string][2]int{"get": {1, 1}, "put": {1, 2}, "del": {1, 1}, "ls": {0, 0}}
	n, ok := want[op]
	switch {
	case !ok:
		return usageErrorf("unknown kv operation %q; want get, put, del or ls", op)
	case len(rest) < n[0]:
		return usageErrorf("kv %s needs a KEY", op)
	case len(rest) > n[1]:
		return usageErrorf("unexpected argument %q", rest[n[1]])
	}
	var value []byte
	if op == "put" {
		if len(rest) < 2 || rest[1] == "-" {
			if value, err = io.ReadAll(e.stdin); err != nil {
				return fmt.Errorf("read value from stdin: %w", err)
			}
		} else {
			value = []byte(rest[1])
		}
	}

	js, closeConn, err := e.jetStream()
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	bucket := hostsvc.KVBucketName(e.global.namespace, name)
	var kv jetstream.KeyValue
	if op == "put" {
		// The function's host services create the same bucket on first use.
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: fmt.Sprintf("natsfn function %s/%s", e.global.namespace, name),
			History:     1,
			Storage:     jetstream.FileStorage,
		})
	} else {
		kv, err = js.KeyValue(ctx, bucket)
	}
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("%s/%s has no KV bucket yet (the function creates it on first use)", e.global.namespace, name)
	}
	if err != nil {
		return fmt.Errorf("KV bucket %s: %w", bucket, err)
	}

	switch op {
	case "get":
		return e.kvGet(ctx, kv, rest[0])
	case "put":
		rev, err := kv.Put(ctx, rest[0], value)
		if err != nil {
			return kvError(rest[0], err)
		}
		if e.global.json {
			return e.printJSON(map[string]any{"key": rest[0], "revision": rev})
		}
		fmt.Fprintf(e.stdout, "put %s (revision %d)\n", rest[0], rev)
	case "del":
		if _, err := kv.Get(ctx, rest[0]); err != nil {
			return kvError(rest[0], err)
		}
		if err := kv.Delete(ctx, rest[0]); err != nil {
			return kvError(rest[0], err)
		}
		if !e.global.json {
			fmt.Fprintf(e.stdout, "deleted %s\n", rest[0])
		}
	case "ls":
		return e.kvList(ctx, kv)
	}
	return nil
}

func (e *env) kvGet(ctx context.Context, kv jetstream.KeyValue, key string) error {
	entry, err := kv.Get(ctx, key)
	if err != nil {
		return kvError(key, err)
	}
	if e.global.json {
		return e.printJSON(map[string]any{
			"key": key, "value": string(entry.Value()), "revision": entry.Revision(), "created": entry.Created().UTC(),
		})
	}
	_, err = e.stdout.Write(entry.Value())
	return err
}

func (e *env) kvList(ctx context.Context, kv jetstream.KeyValue) error {
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return err
	}
	keys := []string{}
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if e.global.json {
		return e.printJSON(keys)
	}
	for _, k := range keys {
		// Keys written around natsfn (nats kv put) may hold anything.
		fmt.Fprintln(e.stdout, printable(k))
	}
	return nil
}

func kvError(key string, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		return fmt.Errorf("key %q not found", key)
	case errors.Is(err, jetstream.ErrInvalidKey):
		return usageErrorf("invalid key %q: keys are A-Z a-z 0-9 - / _ = . without leading, trailing or doubled dots", key)
	}
	return fmt.Errorf("key %q: %w", key, err)
}

// jetStream opens the namespace's own JetStream on the user's connection,
// for the commands that look into a function's data directly.
func (e *env) jetStream() (jetstream.JetStream, func(), error) {
	nc, err := e.connect()
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc.Close, nil
}
