package natsserver

import (
	"encoding/base64"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// authenticator is the server's client authentication. Connections this
// process dialled on someone else's behalf (DialScoped) become their user
// whatever they present. Without accounts every other connection is let in
// as it would be without authentication. With accounts (Config.Accounts) a
// client must present a user JWT signed by a key trusted for an account,
// and prove it holds the user's key by signing the server's nonce; one with
// no credentials at all is the anonymous user, if there is one.
type authenticator struct {
	accounts bool

	mu        sync.RWMutex
	scoped    map[string]*server.User    // by the address the server sees as remote
	issuers   map[string]*server.Account // signing key → the account its users join
	anonymous *server.User
}

func newAuthenticator(accounts bool) *authenticator {
	return &authenticator{accounts: accounts, scoped: map[string]*server.User{}, issuers: map[string]*server.Account{}}
}

func (a *authenticator) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return !a.accounts
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if addr := c.RemoteAddress(); addr != nil {
		if user := a.scoped[addr.String()]; user != nil {
			c.RegisterUser(user)
			return true
		}
	}
	if !a.accounts {
		return true
	}
	o := c.GetOpts()
	switch {
	case o.JWT != "":
		return a.checkJWT(c, o)
	case o.Username == "" && o.Password == "" && o.Token == "" && o.Nkey == "" && a.anonymous != nil:
		c.RegisterUser(a.anonymous)
		return true
	}
	return false
}

// checkJWT admits a user JWT issued by a trusted key, presented by the
// holder of the user's key. Called with a.mu held for reading.
func (a *authenticator) checkJWT(c server.ClientAuthentication, o *server.ClientOpts) bool {
	uc, err := jwt.DecodeUserClaims(o.JWT) // checks the issuer's signature
	if err != nil {
		return false
	}
	var vr jwt.ValidationResults
	uc.Validate(&vr)
	if vr.IsBlocking(true) || uc.BearerToken {
		return false
	}
	acc := a.issuers[uc.Issuer]
	if acc == nil {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(o.Sig)
	if err != nil {
		if sig, err = base64.StdEncoding.DecodeString(o.Sig); err != nil {
			return false
		}
	}
	holder, err := nkeys.FromPublicKey(uc.Subject)
	if err != nil || holder.Verify(c.GetNonce(), sig) != nil {
		return false
	}
	user := &server.User{Username: uc.Name, Account: acc, Permissions: permissionsOf(uc.Permissions)}
	if uc.Expires > 0 {
		user.ConnectionDeadline = time.Unix(uc.Expires, 0)
	}
	c.RegisterUser(user)
	return true
}

// permissionsOf turns a JWT's permissions into the server's; none at all
// means every right within the account.
func permissionsOf(p jwt.Permissions) *server.Permissions {
	var out server.Permissions
	if len(p.Pub.Allow) > 0 || len(p.Pub.Deny) > 0 {
		out.Publish = &server.SubjectPermission{Allow: p.Pub.Allow, Deny: p.Pub.Deny}
	}
	if len(p.Sub.Allow) > 0 || len(p.Sub.Deny) > 0 {
		out.Subscribe = &server.SubjectPermission{Allow: p.Sub.Allow, Deny: p.Sub.Deny}
	}
	if p.Resp != nil {
		out.Response = &server.ResponsePermission{MaxMsgs: p.Resp.MaxMsgs, Expires: p.Resp.Expires}
	}
	if out.Publish == nil && out.Subscribe == nil && out.Response == nil {
		return nil
	}
	return &out
}
