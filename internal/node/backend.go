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
		return &executor.Local{Hosts: n.hosts, IdleTimeout: cfg.IdleTimeout, Budget: pool.NewBudget(cfg.MaxIsolates)}, nil
	case "", "auto", "process":
		path := cfg.WorkerPath
		if path == "" {
			var err error
			if path, err = os.Executable(); err != nil {
				return nil, fmt.Errorf("natsfn: cannot find my own executable to start workers: %w", err)
			}
		}
		opts := worker.ServeOptions{IdleTimeout: cfg.IdleTimeout, MaxIsolates: cfg.MaxIsolates}
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
// connection of its own: where the namespace has an account natsfn mints
// users in, and the node reaches the server over plain TCP (a worker
// cannot do TLS: it has no trust store in its empty root).
func (n *Node) workerServesItself(namespace string) bool {
	if n.server != nil {
		return true
	}
	if n.tenants.get(namespace) == nil {
		return false
	}
	u, err := neturl.Parse(n.nc.ConnectedUrl())
	return err == nil && u.Scheme == "nats" && !n.nc.TLSRequired()
}

// dialWorker opens a namespace's worker's NATS connection. On the embedded
// server the server knows the socket as the worker's user; elsewhere the
// worker logs in as a user of its namespace's account with the same rights,
// minted here.
func (n *Node) dialWorker(namespace string) (*worker.Conn, error) {
	t := n.tenants.get(namespace)
	if t == nil {
		return nil, fmt.Errorf("namespace %q does not exist", namespace)
	}
	if n.server != nil {
		f, forget, err := n.server.DialScoped(workerUser(namespace, t.account))
		if err != nil {
			return nil, err
		}
		return &worker.Conn{File: f, Forget: forget}, nil
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
	perms := workerJWTPermissions(namespace)
	creds, err := t.signer.Mint("natsfn-worker "+namespace, tenancy.Worker, namespace, &perms, 0)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &worker.Conn{File: f, JWT: creds.JWT, Seed: creds.Seed}, nil
}

// workerUser is what a namespace's worker may do on its own NATS
// connection: it is in the namespace's account, where it subscribes only
// in its namespace's queue groups (never outside a queue group, never on
// NATS's, natsfn's or anyone's inbox subjects) and publishes nothing but
// one reply to each message it was given. A worker taken over by its
// tenant can thus subscribe to what a deploy in its namespace could, and
// answer its own calls, nothing more.
func workerUser(namespace string, account *server.Account) *server.User {
	return &server.User{
		Username: "natsfn-worker-" + namespace,
		Account:  account,
		Permissions: &server.Permissions{
			Subscribe: &server.SubjectPermission{
				Allow: []string{workerQueue(namespace)},
				Deny:  workerSubscribeDeny,
			},
			Publish:  &server.SubjectPermission{Deny: []string{">"}},
			Response: &server.ResponsePermission{MaxMsgs: 1},
		},
	}
}

// workerJWTPermissions are workerUser's permissions for a user JWT.
func workerJWTPermissions(namespace string) jwt.Permissions {
	return jwt.Permissions{
		Sub:  jwt.Permission{Allow: []string{workerQueue(namespace)}, Deny: workerSubscribeDeny},
		Pub:  jwt.Permission{Deny: []string{">"}},
		Resp: &jwt.ResponsePermission{MaxMsgs: 1},
	}
}

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
