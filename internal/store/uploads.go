package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ReadUpload returns a staged upload, refusing one larger than max bytes
// before reading it. The object store checks the bytes against the digest
// the client wrote.
func (s *Store) ReadUpload(ctx context.Context, name string, max int64) ([]byte, error) {
	oi, err := s.uploads.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUploadNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("natsfn: read upload %s: %w", name, err)
	}
	if int64(oi.Size) > max {
		return nil, fmt.Errorf("%w: %s has %d bytes, the limit is %d", ErrUploadTooLarge, name, oi.Size, max)
	}
	b, err := s.uploads.GetBytes(ctx, name)
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

// DeleteUpload removes a staged upload; a missing one is not an error.
func (s *Store) DeleteUpload(ctx context.Context, name string) error {
	err := s.uploads.Delete(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("natsfn: delete upload %s: %w", name, err)
	}
	return nil
}
