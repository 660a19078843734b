package hostsvc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/jsbucket"
)

// The function's object store: file storage, created on first use.

func (s *Services) objectStore(ctx context.Context) (jetstream.ObjectStore, error) {
	return s.objects.get(ctx, func(ctx context.Context) (jetstream.ObjectStore, error) {
		obs, _, err := jsbucket.ObjectStore(ctx, s.js, jetstream.ObjectStoreConfig{
			Bucket:      ObjectBucketName(s.fn.Namespace, s.fn.Name),
			Description: fmt.Sprintf("natsfn function %s/%s", s.fn.Namespace, s.fn.Name),
			MaxBytes:    s.cfg.Objects.MaxBytes,
			Storage:     jetstream.FileStorage,
			Replicas:    s.cfg.Replicas,
		})
		if err != nil {
			return nil, classifyJS("objectStore", err)
		}
		return obs, nil
	})
}

func objectNameArg(a args) (string, *Error) {
	name, err := a.str(0, "name")
	if err != nil {
		return "", err
	}
	if !validObjectName(name) {
		return "", typeError(CodeObjInvalidName, "invalid object name %s: names are 1 to %d bytes of UTF-8 without control characters", quoteShort(name), maxObjectNameLen)
	}
	return name, nil
}

// objectInfo is what JavaScript sees of an object.
type objectInfo struct {
	Name     string `json:"name"`
	Size     uint64 `json:"size"`
	Digest   string `json:"digest"`
	Modified string `json:"modified"` // RFC 3339, UTC
}

func infoOf(i *jetstream.ObjectInfo) objectInfo {
	return objectInfo{
		Name:     i.Name,
		Size:     i.Size,
		Digest:   i.Digest,
		Modified: i.ModTime.UTC().Format(time.RFC3339Nano),
	}
}

func objPut(s *Services, ctx context.Context, a args, body []byte) (any, []byte, error) {
	name, e := objectNameArg(a)
	if e != nil {
		return nil, nil, e
	}
	if int64(len(body)) > s.cfg.Objects.MaxObjectSize {
		return nil, nil, newError(CodeTooLarge, nil, "objectStore.put: object of %d bytes is over the limit of %d", len(body), s.cfg.Objects.MaxObjectSize)
	}
	obs, err := s.objectStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	info, err := obs.PutBytes(ctx, name, body)
	if err != nil {
		return nil, nil, classifyJS("objectStore.put", err)
	}
	// PutBytes reports the client's clock; the stored info carries the
	// server's time, which is what list() shows later.
	if stored, err := obs.GetInfo(ctx, name); err == nil && stored.NUID == info.NUID {
		info = stored
	}
	return infoOf(info), nil, nil
}

type objGetResult struct {
	Found bool `json:"found"`
}

func objGet(s *Services, ctx context.Context, a args, _ []byte) (any, []byte, error) {
	name, e := objectNameArg(a)
	if e != nil {
		return nil, nil, e
	}
	obs, err := s.objectStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	data, err := obs.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return objGetResult{Found: false}, nil, nil
	}
	if err != nil {
		return nil, nil, classifyJS("objectStore.get", err)
	}
	if data == nil {
		data = []byte{}
	}
	return objGetResult{Found: true}, data, nil
}

func objDelete(s *Services, ctx context.Context, a args, _ []byte) (any, []byte, error) {
	name, e := objectNameArg(a)
	if e != nil {
		return nil, nil, e
	}
	obs, err := s.objectStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	// Deleting a missing object is a no-op, as for kv.delete.
	if err := obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil, classifyJS("objectStore.delete", err)
	}
	return nil, nil, nil
}

func objList(s *Services, ctx context.Context, _ args, _ []byte) (any, []byte, error) {
	obs, err := s.objectStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	list, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		list, err = nil, nil
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, nil, classifyJS("objectStore.list", err)
	}
	out := make([]objectInfo, 0, len(list))
	for _, i := range list {
		out = append(out, infoOf(i))
	}
	slices.SortFunc(out, func(x, y objectInfo) int { return strings.Compare(x.Name, y.Name) })
	return out, nil, nil
}
