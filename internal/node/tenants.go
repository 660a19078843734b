package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/control"
	"github.com/natsfn/natsfn/internal/natsserver"
	"github.com/natsfn/natsfn/internal/store"
	"github.com/natsfn/natsfn/internal/tenancy"
)

// Files natsfn keeps next to the embedded server's data, each 0600.
const (
	// AdminCredsFile holds the administrator's credentials.
	AdminCredsFile = "admin.creds"
	// systemKeyFile holds the seed natsfn signs its own account's users with.
	systemKeyFile = "natsfn.nk"
)

// namespaceLogBytes bounds each namespace's log stream; a namespace with a
// storage limit gets at most a quarter of it.
const namespaceLogBytes = 8 << 20

// namespaceMemory bounds the memory-backed streams a tenant may make with
// its credentials; natsfn itself makes none.
const namespaceMemory = 64 << 20

// tenantSetupTimeout bounds connecting a node to a namespace's account.
const tenantSetupTimeout = 30 * time.Second

// tenant is a namespace as this node serves it: a connection of its own in
// the namespace's account, where its functions' triggers, replies, host
// services, uploads and logs live, and the control API served there.
type tenant struct {
	ns      store.Namespace
	signer  *tenancy.Signer
	nc      *nats.Conn
	uploads *store.Uploads
	ctl     *control.Server
	account *server.Account // on the embedded server
}

// tenants are the namespaces this node serves, by name.
type tenants struct {
	mu      sync.Mutex
	byName  map[string]*tenant
	changed chan struct{}
	// registered are the namespaces of the registry, served here or not.
	registered map[string]bool
}

func (ts *tenants) register(name string, ok bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.registered == nil {
		ts.registered = map[string]bool{}
	}
	if ok {
		ts.registered[name] = true
	} else {
		delete(ts.registered, name)
	}
}

func (ts *tenants) isRegistered(name string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.registered[name]
}

func (ts *tenants) get(name string) *tenant {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.byName[name]
}

func (ts *tenants) set(name string, t *tenant) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.byName == nil {
		ts.byName = map[string]*tenant{}
	}
	if t == nil {
		delete(ts.byName, name)
	} else {
		ts.byName[name] = t
	}
	if ts.changed != nil {
		close(ts.changed)
		ts.changed = nil
	}
}

func (ts *tenants) all() []*tenant {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]*tenant, 0, len(ts.byName))
	for _, t := range ts.byName {
		out = append(out, t)
	}
	return out
}

// wait returns once ok holds for the namespace's tenant (nil when there is
// none), or ctx ends.
func (ts *tenants) wait(ctx context.Context, name string, ok func(*tenant) bool) error {
	for {
		ts.mu.Lock()
		if ok(ts.byName[name]) {
			ts.mu.Unlock()
			return nil
		}
		if ts.changed == nil {
			ts.changed = make(chan struct{})
		}
		ch := ts.changed
		ts.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("namespace %s is not ready on this node: %w", name, ctx.Err())
		}
	}
}

// startSystemAccount makes natsfn's own account on the embedded server:
// it holds the desired state and the control plane, and only natsfn's
// nodes and its administrator get in. The administrator's credentials
// are written once, to <data>/admin.creds.
func (n *Node) startSystemAccount() (nodeCreds tenancy.Creds, err error) {
	seed, err := tenancy.LoadOrCreateKey(filepath.Join(n.cfg.DataDir, systemKeyFile))
	if err != nil {
		return tenancy.Creds{}, fmt.Errorf("natsfn: system key: %w", err)
	}
	signer, err := tenancy.NewSigner(seed, "")
	if err != nil {
		return tenancy.Creds{}, err
	}
	acc, err := n.server.EnsureAccount(tenancy.SystemAccount, natsserver.Limits{MaxStore: -1, MaxMemory: -1})
	if err != nil {
		return tenancy.Creds{}, err
	}
	n.server.Trust(signer.PublicKey(), acc)

	path := n.AdminCreds()
	if !tenancy.IssuedBy(path, signer.PublicKey()) {
		// Missing, or signed by a key that is gone: a file that cannot
		// log in would only mislead.
		admin, err := signer.Mint("natsfn-admin", tenancy.Admin, "", nil, 0)
		if err != nil {
			return tenancy.Creds{}, err
		}
		if err := tenancy.WriteFile(path, admin.File()); err != nil {
			return tenancy.Creds{}, fmt.Errorf("natsfn: write the administrator's credentials: %w", err)
		}
	}
	return signer.Mint("natsfn-node "+n.cfg.Name, tenancy.Node, "", nil, 0)
}

// AdminCreds is the path of the administrator's credentials file, on a node
// that runs the embedded server; empty otherwise.
func (n *Node) AdminCreds() string {
	if n.server == nil {
		return ""
	}
	return filepath.Join(n.cfg.DataDir, AdminCredsFile)
}

// watchNamespaces serves each namespace of the registry as it comes and
// goes, for as long as life lasts. It returns once the namespaces that
// exist are served, or fails when that takes longer than ctx allows.
func (n *Node) watchNamespaces(ctx, life context.Context) error {
	if n.server != nil {
		// The default namespace always exists on natsfn's own server: it is
		// where anonymous clients are.
		if _, err := n.createNamespace(ctx, api.DefaultNamespace, api.NoLimit); err != nil && !errors.Is(err, store.ErrNamespaceExists) {
			return err
		}
	}
	return n.store.WatchNamespaces(ctx, life, func(name string, ns *store.Namespace) {
		n.tenants.register(name, ns != nil)
		if ns == nil {
			n.dropTenant(name)
			return
		}
		n.serveTenantRetrying(life, *ns)
	})
}

// serveTenantRetrying serves a namespace, and when its account cannot be
// reached yet (JetStream electing, a server down), keeps trying in the
// background, saying so, until it can, the namespace goes, or life ends.
func (n *Node) serveTenantRetrying(life context.Context, ns store.Namespace) {
	err := n.serveTenant(life, ns)
	if err == nil {
		return
	}
	n.log.Warn("cannot serve namespace yet; retrying", "namespace", ns.Name, "err", err)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		err := n.waitForJetStream(life, "serve namespace "+ns.Name, func(ctx context.Context) error {
			if !n.tenants.isRegistered(ns.Name) {
				return nil // removed meanwhile
			}
			return n.serveTenant(ctx, ns)
		})
		if err != nil && life.Err() == nil {
			n.log.Error("cannot serve namespace", "namespace", ns.Name, "err", err)
		}
	}()
}

// createNamespace adds a namespace to the registry, with a new account.
func (n *Node) createNamespace(ctx context.Context, name string, maxStorage int64) (*store.Namespace, error) {
	account, seed, err := tenancy.NewAccount()
	if err != nil {
		return nil, err
	}
	ns := store.Namespace{
		NamespaceInfo: api.NamespaceInfo{Name: name, Account: account, MaxStorage: maxStorage, Created: time.Now().UTC()},
		SigningKey:    string(seed),
	}
	return &ns, n.store.CreateNamespace(ctx, ns)
}

// serveTenant connects this node to a namespace's account (making the
// account, on the embedded server) or applies its new limits.
func (n *Node) serveTenant(ctx context.Context, ns store.Namespace) error {
	if t := n.tenants.get(ns.Name); t != nil {
		if t.account != nil && t.ns.MaxStorage != ns.MaxStorage {
			if _, err := n.server.EnsureAccount(ns.Name, accountLimits(ns)); err != nil {
				return err
			}
		}
		t.ns = ns
		n.tenants.set(ns.Name, t) // wakes those waiting for the change
		return nil
	}
	setup, cancel := context.WithTimeout(ctx, tenantSetupTimeout)
	defer cancel()
	signer, err := tenancy.NewSigner([]byte(ns.SigningKey), ns.Account)
	if err != nil {
		return err
	}
	t := &tenant{ns: ns, signer: signer}
	if n.server != nil {
		if t.account, err = n.server.EnsureAccount(ns.Name, accountLimits(ns)); err != nil {
			return err
		}
		n.server.Trust(signer.PublicKey(), t.account)
		if ns.Name == api.DefaultNamespace {
			n.server.AllowAnonymous(t.account, anonymousPermissions)
		}
	}
	creds, err := signer.Mint("natsfn-node "+n.cfg.Name, tenancy.Node, ns.Name, nil, 0)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			t.close()
		}
	}()
	if t.nc, err = n.connect("natsfn-node "+n.cfg.Name+" "+ns.Name, nats.UserJWTAndSeed(creds.JWT, string(creds.Seed))); err != nil {
		return fmt.Errorf("connect to the account of namespace %s: %w", ns.Name, err)
	}
	js, err := jetstream.New(t.nc)
	if err != nil {
		return err
	}
	var opened []store.Opened
	if t.uploads, opened, err = store.OpenAccount(setup, js, n.store.Replicas(), logBytes(ns)); err != nil {
		return err
	}
	n.logOpened(opened)
	if t.ctl, err = control.Start(setup, t.nc, n.store, control.WithNamespace(ns.Name), control.WithUploads(t.uploads),
		control.WithCheck(n.check), control.WithDeployed(n.waitLoaded), control.WithRefusals(n.refusalsOf, n.nc),
		control.WithLogger(n.cfg.Logger.With("subsystem", "control"))); err != nil {
		return err
	}
	ok = true
	n.tenants.set(ns.Name, t)
	n.log.Info("serving namespace", "namespace", ns.Name, "account", ns.Account)
	if n.reconciled.Load() {
		// Its functions may have come before it did.
		n.reloadNamespace(setup, ns.Name)
	}
	return nil
}

// dropTenant stops serving a removed namespace: its functions stop, its
// users are turned away and disconnected.
func (n *Node) dropTenant(name string) {
	t := n.tenants.get(name)
	if t == nil {
		return
	}
	n.tenants.set(name, nil)
	n.exec.UnloadNamespace(name)
	n.served.removeNamespace(name)
	t.close()
	if n.server != nil {
		n.server.Distrust(name)
	}
	n.log.Info("namespace removed", "namespace", name)
}

func (t *tenant) close() {
	if t.ctl != nil {
		t.ctl.Close()
	}
	if t.nc != nil {
		t.nc.Drain()
	}
}

// connFor is the connection a namespace's functions are served on.
func (n *Node) connFor(namespace string) (*nats.Conn, error) {
	if t := n.tenants.get(namespace); t != nil {
		return t.nc, nil
	}
	if n.server == nil && !n.tenants.isRegistered(namespace) {
		// A namespace without an account of its own on a NATS system
		// natsfn joins: it shares the node's account.
		return n.nc, nil
	}
	if n.tenants.isRegistered(namespace) {
		// Never its functions in another account, natsfn's least of all.
		return nil, api.Errorf(api.CodeUnavailable, "namespace %q is not served on this node: its account cannot be reached (see the node's log)", namespace)
	}
	return nil, api.Errorf(api.CodeNotFound, "namespace %q does not exist (the administrator creates it with `natsfn ns add %s`)", namespace, namespace)
}

func accountLimits(ns store.Namespace) natsserver.Limits {
	return natsserver.Limits{MaxStore: ns.MaxStorage, MaxMemory: namespaceMemory}
}

func logBytes(ns store.Namespace) int64 {
	if ns.MaxStorage > 0 {
		return min(namespaceLogBytes, ns.MaxStorage/4)
	}
	return namespaceLogBytes
}

// anonymousPermissions are those of a client that presents no credentials
// to natsfn's own server: it is an application of the default namespace,
// which may call functions and hear their replies, and nothing else: no
// JetStream (the namespace's buckets), no control API, no listening in on
// the namespace's subjects.
var anonymousPermissions = &server.Permissions{
	Publish: &server.SubjectPermission{
		Deny: []string{"$SYS.>", "$JS.>", "$JSC.>", "$KV.>", "$O.>", "$SRV.>", "$MQTT.>", "$NRG.>", "$NATSFN.>"},
	},
	Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
}
