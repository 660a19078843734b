package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
)

// Errors of the namespace registry.
var (
	ErrNamespaceNotFound = errors.New("natsfn: namespace not found")
	ErrNamespaceExists   = errors.New("natsfn: namespace exists")
)

// Namespace is a namespace as the registry keeps it: what users see, and
// the seed of the signing key natsfn mints the account's users with. The
// registry lives in natsfn's own account, where no tenant reaches.
type Namespace struct {
	api.NamespaceInfo
	SigningKey string `json:"signing_key"`
}

// CreateNamespace adds a namespace; one that exists is ErrNamespaceExists.
func (s *Store) CreateNamespace(ctx context.Context, ns Namespace) error {
	if err := api.ValidateName("namespace", ns.Name); err != nil {
		return fmt.Errorf("natsfn: %w", err)
	}
	value, err := json.Marshal(ns)
	if err != nil {
		return err
	}
	_, err = s.namespaces.Create(ctx, ns.Name, value)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("%w: %s", ErrNamespaceExists, ns.Name)
	}
	if err != nil {
		return fmt.Errorf("natsfn: store namespace %s: %w", ns.Name, err)
	}
	return nil
}

// UpdateNamespace changes a namespace with update, retrying when another
// node changed it meanwhile.
func (s *Store) UpdateNamespace(ctx context.Context, name string, update func(*Namespace)) (*Namespace, error) {
	for range putConflictRetries {
		ns, rev, err := s.namespace(ctx, name)
		if err != nil {
			return nil, err
		}
		update(ns)
		value, err := json.Marshal(ns)
		if err != nil {
			return nil, err
		}
		_, err = s.namespaces.Update(ctx, name, value, rev)
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("natsfn: store namespace %s: %w", name, err)
		}
		return ns, nil
	}
	return nil, fmt.Errorf("%w: namespace %s", ErrConflict, name)
}

// Namespace returns a namespace.
func (s *Store) Namespace(ctx context.Context, name string) (*Namespace, error) {
	ns, _, err := s.namespace(ctx, name)
	return ns, err
}

func (s *Store) namespace(ctx context.Context, name string) (*Namespace, uint64, error) {
	if err := api.ValidateName("namespace", name); err != nil {
		return nil, 0, fmt.Errorf("natsfn: %w", err)
	}
	e, err := s.namespaces.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("%w: %s", ErrNamespaceNotFound, name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("natsfn: read namespace %s: %w", name, err)
	}
	ns, err := decodeNamespace(e.Value())
	return ns, e.Revision(), err
}

// Namespaces returns every namespace, sorted by name.
func (s *Store) Namespaces(ctx context.Context) ([]Namespace, error) {
	lister, err := s.namespaces.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("natsfn: list namespaces: %w", err)
	}
	var out []Namespace
	for key := range lister.Keys() {
		ns, err := s.Namespace(ctx, key)
		if errors.Is(err, ErrNamespaceNotFound) {
			continue // removed while listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *ns)
	}
	slices.SortFunc(out, func(a, b Namespace) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteNamespace removes a namespace from the registry.
func (s *Store) DeleteNamespace(ctx context.Context, name string) error {
	if err := api.ValidateName("namespace", name); err != nil {
		return fmt.Errorf("natsfn: %w", err)
	}
	if err := s.namespaces.Delete(ctx, name); err != nil {
		return fmt.Errorf("natsfn: delete namespace %s: %w", name, err)
	}
	return nil
}

// WatchNamespaces calls fn with every namespace (nil, name for one removed),
// first those that exist, then each change, until life ends. It returns
// once the existing ones have been delivered, or fails when ctx ends first.
func (s *Store) WatchNamespaces(ctx, life context.Context, fn func(name string, ns *Namespace)) error {
	w, cancel, err := watchAll(ctx, life, s.namespaces)
	if err != nil {
		return fmt.Errorf("natsfn: watch namespaces: %w", err)
	}
	deliver := func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			fn(e.Key(), nil)
			return
		}
		if ns, err := decodeNamespace(e.Value()); err == nil {
			fn(e.Key(), ns)
		}
	}
	for initial := true; initial; {
		select {
		case <-ctx.Done():
			stopWatcher(w)
			cancel()
			return fmt.Errorf("natsfn: watch namespaces: %w", ctx.Err())
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				cancel()
				return errors.New("natsfn: watch namespaces: watcher stopped")
			case e == nil:
				initial = false // the existing ones are in
			default:
				deliver(e)
			}
		}
	}
	go func() {
		defer cancel()
		defer stopWatcher(w)
		for {
			select {
			case <-life.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil {
					deliver(e)
				}
			}
		}
	}()
	return nil
}

func decodeNamespace(b []byte) (*Namespace, error) {
	var ns Namespace
	if err := json.Unmarshal(b, &ns); err != nil {
		return nil, fmt.Errorf("natsfn: namespace record does not decode: %w", err)
	}
	return &ns, nil
}
