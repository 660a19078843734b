package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"
)

// Uploads is an account's staging area for bundles on their way to a
// deploy: the object store api.UploadsBucket, which forgets after
// UploadMaxAge what no deploy took.
type Uploads struct {
	store jetstream.ObjectStore
}

// ReadUpload reads a staged upload from the store's own account.
func (s *Store) ReadUpload(ctx context.Context, name string, max int64) ([]byte, error) {
	return s.uploads.Read(ctx, name, max)
}

// DeleteUpload removes an upload from the store's own account.
func (s *Store) DeleteUpload(ctx context.Context, name string) error {
	return s.uploads.Delete(ctx, name)
}

// Uploads is the staging area of the store's own account.
func (s *Store) Uploads() *Uploads { return s.uploads }

// Read returns a staged upload, refusing one larger than max bytes. The
// size in the object's metadata is only a hint: a client can write chunks
// that hold more than it says, so the chunks are read through a limit and
// no more than max+1 bytes are ever held. The object store checks the bytes
// against the digest the client wrote.
func (u *Uploads) Read(ctx context.Context, name string, max int64) ([]byte, error) {
	r, err := u.store.Get(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUploadNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("natsfn: read upload %s: %w", name, err)
	}
	defer r.Close()
	oi, err := r.Info()
	if err != nil {
		return nil, fmt.Errorf("natsfn: read upload %s: %w", name, err)
	}
	if int64(oi.Size) > max {
		return nil, fmt.Errorf("%w: %s has %d bytes, the limit is %d", ErrUploadTooLarge, name, oi.Size, max)
	}
	var buf bytes.Buffer
	buf.Grow(int(oi.Size) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(r, max+1)); err != nil {
		return nil, fmt.Errorf("natsfn: read upload %s: %w", name, err)
	}
	if int64(buf.Len()) > max {
		return nil, fmt.Errorf("%w: %s holds more than the %d bytes its metadata says, and more than the limit of %d", ErrUploadTooLarge, name, oi.Size, max)
	}
	return buf.Bytes(), nil
}

// Delete removes a staged upload; a missing one is not an error.
func (u *Uploads) Delete(ctx context.Context, name string) error {
	err := u.store.Delete(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("natsfn: delete upload %s: %w", name, err)
	}
	return nil
}
