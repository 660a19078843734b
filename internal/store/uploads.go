package store

import (
	"context"
	"errors"
	"fmt"

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

// Read returns a staged upload, refusing one larger than max bytes before
// reading it. The object store checks the bytes against the digest the
// client wrote.
func (u *Uploads) Read(ctx context.Context, name string, max int64) ([]byte, error) {
	oi, err := u.store.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUploadNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("natsfn: read upload %s: %w", name, err)
	}
	if int64(oi.Size) > max {
		return nil, fmt.Errorf("%w: %s has %d bytes, the limit is %d", ErrUploadTooLarge, name, oi.Size, max)
	}
	b, err := u.store.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUploadNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("natsfn: read upload %s: %w", name, err)
	}
	if int64(len(b)) > max {
		// Replaced between GetInfo and GetBytes.
		return nil, fmt.Errorf("%w: %s has %d bytes, the limit is %d", ErrUploadTooLarge, name, len(b), max)
	}
	return b, nil
}

// Delete removes a staged upload; a missing one is not an error.
func (u *Uploads) Delete(ctx context.Context, name string) error {
	err := u.store.Delete(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("natsfn: delete upload %s: %w", name, err)
	}
	return nil
}
