package natsserver

import (
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
)

// Limits are an account's JetStream limits in bytes; -1 is no limit.
type Limits struct {
	MaxStore  int64
	MaxMemory int64
}

// EnsureAccount registers the account name with JetStream on, or updates
// its limits when it exists. An account's streams survive a restart: the
// server finds them in its store directory when the account is enabled again.
func (s *Server) EnsureAccount(name string, limits Limits) (*server.Account, error) {
	acc, _ := s.ns.LookupOrRegisterAccount(name)
	tiers := map[string]server.JetStreamAccountLimits{"": {
		MaxMemory: limits.MaxMemory, MaxStore: limits.MaxStore,
		MaxStreams: -1, MaxConsumers: -1, MaxAckPending: -1,
	}}
	var err error
	if acc.JetStreamEnabled() {
		err = acc.UpdateJetStreamLimits(tiers)
	} else {
		err = acc.EnableJetStream(tiers, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("natsserver: account %s: %w", name, err)
	}
	return acc, nil
}

// Trust admits the users whose JWTs issuer signed, into acc.
func (s *Server) Trust(issuer string, acc *server.Account) {
	s.auth.mu.Lock()
	s.auth.issuers[issuer] = acc
	s.auth.mu.Unlock()
}

// Distrust stops admitting the users of the account name and disconnects
// those connected.
func (s *Server) Distrust(name string) {
	s.auth.mu.Lock()
	for issuer, acc := range s.auth.issuers {
		if acc.GetName() == name {
			delete(s.auth.issuers, issuer)
		}
	}
	s.auth.mu.Unlock()
	connz, err := s.ns.Connz(&server.ConnzOptions{Account: name, Limit: 1 << 20})
	if err != nil {
		return
	}
	for _, c := range connz.Conns {
		_ = s.ns.DisconnectClientByID(c.Cid)
	}
}

// AllowAnonymous lets clients that present no credentials in, into acc with
// perms.
func (s *Server) AllowAnonymous(acc *server.Account, perms *server.Permissions) {
	s.auth.mu.Lock()
	s.auth.anonymous = &server.User{Username: "anonymous", Account: acc, Permissions: perms}
	s.auth.mu.Unlock()
}

// Account returns a registered account.
func (s *Server) Account(name string) (*server.Account, error) {
	return s.ns.LookupAccount(name)
}
