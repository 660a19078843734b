package node

import (
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nuid"

	"github.com/natsfn/natsfn/api"

	"github.com/natsfn/natsfn/internal/executor"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/pool"
	"github.com/natsfn/natsfn/internal/sandbox"
	"github.com/natsfn/natsfn/internal/tenancy"
	"github.com/natsfn/natsfn/internal/worker"
)

// chooseBackend decides where JavaScript runs, from cfg.Sandbox:
//   - none: in this process, isolated by V8 isolates only;
//   - process: in a sandboxed worker process per namespace, or not at all;
//   - auto: process where the machine allows it, else plain worker
//     processes, said loudly.
func (n *Node) chooseBackend() (executor.Backend, error) {
	cfg := n.cfg
	switch cfg.Sandbox {
	case "none":
		n.log.Warn("SANDBOX OFF: functions run inside the node process, isolated by V8 isolates only (--sandbox=none); do not run untrusted code like this")
		n.sandbox = "none"
		return &executor.Local{Hosts: n.hosts, IdleTimeout: cfg.IdleTimeout, Budget: pool.NewBudget(cfg.MaxIsolates), HideExceptions: cfg.HideExceptions}, nil
	case "", "auto", "process":
		path := cfg.WorkerPath
		if path == "" {
			var err error
			if path, err = os.Executable(); err != nil {
				return nil, fmt.Errorf("natsfn: cannot find my own executable to start workers: %w", err)
			}
		}
		opts := worker.ServeOptions{IdleTimeout: cfg.IdleTimeout, MaxIsolates: cfg.MaxIsolates, HideExceptions: cfg.HideExceptions}
		spawn := worker.SandboxSpawn(path, opts, worker.Limits{MemoryBytes: cfg.WorkerMemory, Pids: cfg.WorkerPids},
			cfg.Logger.With("subsystem", "worker"))
		// A deploy's check runs in a process of its own, with less memory.
		spawnCheck := worker.SandboxSpawn(path, opts, worker.Limits{MemoryBytes: cfg.CheckMemory, Pids: cfg.WorkerPids, Cgroup: "check-"},
			cfg.Logger.With("subsystem", "check"))
		if err := sandbox.Check(); err != nil {
			if cfg.Sandbox == "process" {
				return nil, fmt.Errorf("natsfn: --sandbox process is not available here: %v", err)
			}
			n.log.Warn("SANDBOX UNAVAILABLE: workers run as plain processes, without namespaces, seccomp or cgroup limits", "reason", err.Error())
			spawn = worker.PlainSpawn(path, opts, cfg.Logger.With("subsystem", "worker"))
			spawnCheck = worker.PlainSpawn(path, opts, cfg.Logger.With("subsystem", "check"))
			n.sandbox = "plain"
		} else {
			n.sandbox = "process"
			n.log.Info("functions run in sandboxed worker processes, one per namespace",
				"memory_limit", cfg.WorkerMemory, "pids_limit", cfg.WorkerPids)
		}
		wcfg := worker.Config{
			Spawn:        spawn,
			SpawnCheck:   spawnCheck,
			Hosts:        n.hosts,
			Logger:       cfg.Logger.With("subsystem", "worker"),
			MaxWorkers:   cfg.MaxWorkers,
			MemoryBudget: cfg.WorkerMemoryBudget,
			WorkerMemory: cfg.WorkerMemory,
			CheckMemory:  cfg.CheckMemory,
			IdleWorker:   cfg.WorkerIdle,
			MaxHostCalls: cfg.MaxHostCalls,
			HostBytes:    cfg.HostCallBytes,
		}
		// Each worker gets a NATS connection of its own, scoped to its
		// namespace, so calls skip the node; a namespace without an
		// account of its own relays its calls through the node.
		wcfg.Direct = &worker.Direct{Dial: n.dialWorker, Serves: n.workerServesItself, Orphaned: n.answerOrphans}
		return worker.NewBackend(wcfg), nil
	default:
		return nil, fmt.Errorf("natsfn: unknown sandbox %q (want auto, process or none)", cfg.Sandbox)
	}
}

// workerServesItself says whether a namespace's worker gets a NATS
// connection of its own: on the embedded server; on a NATS system natsfn
// joins, where the namespace has an account natsfn mints users in, or
// where the server asks no one to authenticate (any client may do
// anything there, so the worker's connection has no more rights than any
// client's), and the node reaches the server over plain TCP (a worker
// cannot do TLS: it has no trust store in its empty root).
func (n *Node) workerServesItself(namespace string) bool {
	if n.server != nil {
		return true
	}
	if n.tenants.get(namespace) == nil && !n.openServer(namespace) {
		return false
	}
	u, err := neturl.Parse(n.nc.ConnectedUrl())
	return err == nil && u.Scheme == "nats" && !n.nc.TLSRequired()
}

// openServer says whether namespace shares the node's account on a NATS
// system natsfn joins whose server asks no one to authenticate.
func (n *Node) openServer(namespace string) bool {
	return n.server == nil && n.tenants.get(namespace) == nil && !n.tenants.isRegistered(namespace) && !n.nc.AuthRequired()
}

// dialWorker opens a namespace's worker's NATS connection. On the embedded
// server the server knows the socket as the worker's user; elsewhere the
// worker logs in as a user of its namespace's account with the same rights,
// minted here, or, on a server without authentication, as anyone does.
func (n *Node) dialWorker(namespace string) (*worker.Conn, error) {
	inbox := workerInbox()
	t := n.tenants.get(namespace)
	if n.server != nil {
		if t == nil {
			return nil, fmt.Errorf("namespace %q does not exist", namespace)
		}
		f, forget, err := n.server.DialScoped(workerUser(namespace, inbox, t.account))
		if err != nil {
			return nil, err
		}
		return &worker.Conn{File: f, Forget: forget, InboxPrefix: inbox}, nil
	}
	open := t == nil && n.openServer(namespace)
	if t == nil && !open {
		return nil, fmt.Errorf("namespace %q has no account natsfn can mint a worker user in", namespace)
	}
	u, err := neturl.Parse(n.nc.ConnectedUrl())
	if err != nil {
		return nil, err
	}
	tcp, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer tcp.Close() // the file is a duplicate that keeps the socket open
	f, err := tcp.(*net.TCPConn).File()
	if err != nil {
		return nil, err
	}
	if open {
		return &worker.Conn{File: f, InboxPrefix: inbox}, nil
	}
	perms := workerJWTPermissions(namespace, inbox)
	creds, err := t.signer.Mint("natsfn-worker "+namespace, tenancy.Worker, namespace, &perms, 0)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &worker.Conn{File: f, JWT: creds.JWT, Seed: creds.Seed, InboxPrefix: inbox}, nil
}

// workerUser is what a namespace's worker may do on its own NATS
// connection: it is in the namespace's account, where it subscribes only
// in its namespace's queue groups (never outside a queue group, never on
// NATS's, natsfn's or anyone's inbox subjects) and to its own inbox
// prefix, publishes one reply to each message it was given, and uses the
// namespace's KV buckets (workerPublish). A worker taken over by its
// tenant can thus subscribe to what a deploy in its namespace could,
// answer its own calls, and read and write the namespace's keys, nothing
// more.
func workerUser(namespace, inbox string, account *server.Account) *server.User {
	return &server.User{
		Username: "natsfn-worker-" + namespace,
		Account:  account,
		Permissions: &server.Permissions{
			Subscribe: &server.SubjectPermission{
				Allow: []string{workerQueue(namespace), inbox + ".>"},
				Deny:  workerSubscribeDeny,
			},
			Publish:  &server.SubjectPermission{Allow: workerPublish, Deny: workerPublishDeny},
			Response: &server.ResponsePermission{MaxMsgs: 1},
		},
	}
}

// workerJWTPermissions are workerUser's permissions for a user JWT.
func workerJWTPermissions(namespace, inbox string) jwt.Permissions {
	return jwt.Permissions{
		Sub:  jwt.Permission{Allow: []string{workerQueue(namespace), inbox + ".>"}, Deny: workerSubscribeDeny},
		Pub:  jwt.Permission{Allow: workerPublish, Deny: workerPublishDeny},
		Resp: &jwt.ResponsePermission{MaxMsgs: 1},
	}
}

// workerPublish is what a worker may publish besides its replies: the
// kv.get, kv.set and kv.delete of its functions, which it runs itself
// (internal/worker/localhost.go). Bucket names are single tokens
// (fn_<len>_<namespace>_<name>), and a wildcard matches whole tokens only,
// so these name every KV bucket of the namespace's account, not its
// functions' alone: the worker runs every function of the namespace
// anyway. Nothing here creates, changes or deletes a stream, creates a
// consumer (which would deliver to a subject of its creator's choosing) or
// reads a stream's messages other than a KV key's last value.
var workerPublish = []string{
	"$KV.*.>",                    // kv.set, kv.delete: a message into a bucket's stream
	"$JS.API.DIRECT.GET.*.$KV.>", // kv.get: the last message of a key
	"$JS.API.STREAM.INFO.*",      // binding a bucket: the stream's configuration and counts
}

// workerPublishDeny narrows workerPublish: natsfn's own streams in the
// account are none of the worker's business.
var workerPublishDeny = []string{
	"$JS.API.STREAM.INFO." + api.LogStream,
	"$JS.API.STREAM.INFO.OBJ_" + api.UploadsBucket,
}

// workerInbox is a fresh inbox prefix for a worker's connection: its
// permissions let it subscribe there, so it must be unguessable and in no
// one else's subscribe permissions (anonymous clients have _INBOX.>).
func workerInbox() string { return "_NATSFN_W." + nuid.Next() }

// workerQueue is the permission to subscribe to any subject in the
// namespace's queue groups.
func workerQueue(namespace string) string { return "> " + executor.QueueGroup(namespace, "*") }

// workerSubscribeDeny are subjects no trigger may use (api.IsReserved and
// the other reserved prefixes of NATS).
var workerSubscribeDeny = []string{
	"$SYS.>", "$JS.>", "$JSC.>", "$KV.>", "$O.>", "$SRV.>", "$MQTT.>", "$NRG.>", "$NATSFN.>",
	"_INBOX.>", "_R_.>",
}

// answerOrphans answers with 503 the calls a dead worker had taken from
// NATS and not answered. The reply subjects come from the dead worker's
// memory, which its tenant may have controlled: only inbox subjects and
// subjects the namespace could publish on anyway are answered.
func (n *Node) answerOrphans(namespace string, replies []string) {
	allowed := n.cfg.Services.Config.Messaging.AllowedSubjects
	if subjects, ok := n.cfg.Services.AllowedSubjects[namespace]; ok {
		allowed = subjects
	}
	conn, err := n.connFor(namespace)
	if err != nil {
		n.log.Warn("cannot answer the calls a dead worker left", "namespace", namespace, "calls", len(replies), "err", err)
		return
	}
	refused := 0
	unavailable := api.Errorf(api.CodeUnavailable, "function unavailable")
	for _, reply := range replies {
		inbox := strings.HasPrefix(reply, "_INBOX.") && api.ValidateSubject(reply, false) == nil
		if !inbox && !hostsvc.MayPublish(reply, allowed) {
			refused++
			continue
		}
		conn.PublishMsg(executor.ErrorReply(reply, unavailable))
	}
	conn.Flush()
	n.log.Warn("answered the calls a dead worker left", "namespace", namespace, "calls", len(replies)-refused, "refused", refused)
}
