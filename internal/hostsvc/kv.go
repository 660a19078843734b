package hostsvc

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/jsbucket"
)

// The function's KV bucket: history 1, file storage, created on first use.

func (s *Services) kvBucket(ctx context.Context) (jetstream.KeyValue, error) {
	if s.openKV != nil {
		return s.kv.get(ctx, s.bindKV)
	}
	return s.kv.get(ctx, func(ctx context.Context) (jetstream.KeyValue, error) {
		// Bound as it is when it exists: an operator's raise of its
		// replicas stays, and a first call costs no update.
		var kv jetstream.KeyValue
		err := whileUnavailable(ctx, false, func() (err error) {
			kv, _, err = jsbucket.KeyValue(ctx, s.js, s.kvConfig())
			return err
		})
		if err != nil {
			return nil, classifyJS("kv", err)
		}
		return kv, nil
	})
}

// kvConfig is the function's bucket as this node makes it.
func (s *Services) kvConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:       KVBucketName(s.fn.Namespace, s.fn.Name),
		Description:  fmt.Sprintf("natsfn function %s/%s", s.fn.Namespace, s.fn.Name),
		History:      1,
		MaxValueSize: s.cfg.KV.MaxValueSize,
		MaxBytes:     s.cfg.KV.MaxBucketBytes,
		Storage:      jetstream.FileStorage,
		Replicas:     s.cfg.Replicas,
	}
}

func keyArg(a args) (string, *Error) {
	key, err := a.str(0, "key")
	if err != nil {
		return "", err
	}
	if !validKey(key) {
		return "", typeError(CodeKVInvalidKey, "invalid key %s: keys are 1 to %d of A-Z a-z 0-9 - / _ = . without leading, trailing or doubled dots", quoteShort(key), maxKeyLen)
	}
	return key, nil
}

type kvGetResult struct {
	Found bool `json:"found"`
}

func kvGet(s *Services, ctx context.Context, a args, _ []byte) (any, []byte, error) {
	key, e := keyArg(a)
	if e != nil {
		return nil, nil, e
	}
	kv, err := s.kvBucket(ctx)
	if err != nil {
		return nil, nil, err
	}
	var entry jetstream.KeyValueEntry
	err = whileUnavailable(ctx, true, func() (err error) {
		entry, err = kv.Get(ctx, key)
		return err
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return kvGetResult{Found: false}, nil, nil
	}
	if err != nil {
		return nil, nil, classifyJS("kv.get", err)
	}
	v := entry.Value()
	if v == nil {
		v = []byte{}
	}
	return kvGetResult{Found: true}, v, nil
}

func kvSet(s *Services, ctx context.Context, a args, body []byte) (any, []byte, error) {
	key, e := keyArg(a)
	if e != nil {
		return nil, nil, e
	}
	if limit := min(int64(s.cfg.KV.MaxValueSize), s.nc.MaxPayload()); int64(len(body)) > limit {
		return nil, nil, newError(CodeTooLarge, nil, "kv.set: value of %d bytes is over the limit of %d", len(body), limit)
	}
	kv, err := s.kvBucket(ctx)
	if err != nil {
		return nil, nil, err
	}
	var rev uint64
	err = whileUnavailable(ctx, true, func() (err error) {
		rev, err = kv.Put(ctx, key, body)
		return err
	})
	if err != nil {
		return nil, nil, classifyJS("kv.set", err)
	}
	return rev, nil, nil
}

func kvDelete(s *Services, ctx context.Context, a args, _ []byte) (any, []byte, error) {
	key, e := keyArg(a)
	if e != nil {
		return nil, nil, e
	}
	kv, err := s.kvBucket(ctx)
	if err != nil {
		return nil, nil, err
	}
	// Deleting a missing key writes a delete marker and succeeds, as in NATS.
	if err := whileUnavailable(ctx, true, func() error { return kv.Delete(ctx, key) }); err != nil {
		return nil, nil, classifyJS("kv.delete", err)
	}
	return nil, nil, nil
}

func kvKeys(s *Services, ctx context.Context, _ args, _ []byte) (any, []byte, error) {
	kv, err := s.kvBucket(ctx)
	if err != nil {
		return nil, nil, err
	}
	var keys []string
	err = whileUnavailable(ctx, true, func() (err error) {
		keys, err = kv.Keys(ctx)
		return err
	})
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		keys, err = []string{}, nil
	}
	if err == nil {
		// Keys stops early, without an error, when ctx ends: a partial list
		// must not pass for the whole.
		err = ctx.Err()
	}
	if err != nil {
		return nil, nil, classifyJS("kv.keys", err)
	}
	slices.Sort(keys)
	return keys, nil, nil
}
