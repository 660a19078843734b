package api

import "time"

// The administrator's API is NATS request/reply on subjects under
// AdminPrefix, reachable only from natsfn's own account:
//
//	$NATSFN.admin.v1.ns.add    NamespaceRequest -> NamespaceCreds
//	$NATSFN.admin.v1.ns.set    NamespaceRequest -> NamespaceInfo
//	$NATSFN.admin.v1.ns.ls     (empty)          -> NamespaceList
//	$NATSFN.admin.v1.ns.rm     NamespaceRequest -> NamespaceInfo (as it was)
//	$NATSFN.admin.v1.ns.creds  NamespaceRequest -> NamespaceCreds
//
// Replies use the same Response envelope as the control API.
const AdminPrefix = "$NATSFN.admin.v1"

// Namespace operations of the administrator's API.
const (
	OpNamespaceAdd   = "add"
	OpNamespaceSet   = "set"
	OpNamespaceList  = "ls"
	OpNamespaceRm    = "rm"
	OpNamespaceCreds = "creds"
)

// AdminSubject returns the subject of a namespace operation.
func AdminSubject(op string) string { return AdminPrefix + ".ns." + op }

// NoLimit is a limit that is not set.
const NoLimit = -1

// MinNamespaceStorage is the least storage a namespace may be limited to:
// natsfn keeps its uploads and logs there too.
const MinNamespaceStorage = 16 << 20

// NamespaceInfo is a namespace: a tenant, with a NATS account of its own.
type NamespaceInfo struct {
	Name string `json:"name"`
	// Account is the public key of the namespace's NATS account.
	Account string `json:"account"`
	// MaxStorage bounds the JetStream file storage of the account, in
	// bytes (KV buckets, object stores, uploads, logs); NoLimit for none.
	MaxStorage int64     `json:"max_storage"`
	Created    time.Time `json:"created"`
}

// NamespaceRequest names a namespace and, for add and set, its limits. For
// creds, TTL bounds the credentials' life (none when zero).
//
// On a NATS system natsfn joins (rather than runs), add takes an account
// its operator made: Account is its public key and SigningKey the seed of
// one of its signing keys, with which natsfn mints the namespace's users.
type NamespaceRequest struct {
	Name       string   `json:"name"`
	MaxStorage *int64   `json:"max_storage,omitempty"`
	TTL        Duration `json:"ttl,omitempty"`
	Account    string   `json:"account,omitempty"`
	SigningKey string   `json:"signing_key,omitempty"`
}

// NamespaceCreds is a namespace and a credentials file for a user of it,
// with every right within its account.
type NamespaceCreds struct {
	Namespace NamespaceInfo `json:"namespace"`
	Creds     string        `json:"creds"`
}

// NamespaceList lists the namespaces, sorted by name.
type NamespaceList struct {
	Namespaces []NamespaceInfo `json:"namespaces"`
}

// NodesSubject is where every node of a NATS system answers who it is, in
// natsfn's own account: a request gathers one NodeInfo per node. It is an
// endpoint of the node's NATS micro service (NodeService), without a queue
// group, so every node answers.
const NodesSubject = AdminPrefix + ".nodes"

// NodeService is the name of the NATS micro service every node runs in
// natsfn's own account, one instance per node: `nats micro ls` and
// `nats micro info natsfn-node` show the nodes.
const NodeService = "natsfn-node"

// NodeInfo is one node as it describes itself.
type NodeInfo struct {
	Name string `json:"name"`
	// Version is the natsfn build the node runs ("devel" for a build
	// without a module version).
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	// ServiceID is the node's instance of the NodeService micro service.
	ServiceID string `json:"service_id,omitempty"`
	// Server is the NATS server the node is connected to (its name, or its
	// URL without credentials); Embedded says the node runs it.
	Server   string `json:"server"`
	Embedded bool   `json:"embedded"`
	// Sandbox is how functions run: "process" (sandboxed workers),
	// "plain" (worker processes without the sandbox) or "none".
	Sandbox    string `json:"sandbox"`
	Namespaces int    `json:"namespaces"`
	// Functions served, worker processes and isolates alive.
	Functions int `json:"functions"`
	Workers   int `json:"workers"`
	Isolates  int `json:"isolates"`
	// Calls this node answered since it started, and those answered with
	// an error (a function that threw, timed out, ...).
	Calls  uint64 `json:"calls"`
	Errors uint64 `json:"errors"`
	// Draining: the node takes no new calls and leaves once those in
	// flight are answered (api.NodeDrainSubject).
	Draining bool `json:"draining,omitempty"`
	// ByNamespace breaks the numbers down per namespace.
	ByNamespace []NamespaceUsage `json:"by_namespace,omitempty"`
	// Pid is the node's process id and Machine the boot id of the kernel
	// it runs on: `natsfn bench` reads the CPU time of the node and its
	// workers from /proc when it runs on the same machine.
	Pid     int    `json:"pid,omitempty"`
	Machine string `json:"machine,omitempty"`
}

// NamespaceUsage is what a node does for one namespace.
type NamespaceUsage struct {
	Namespace string `json:"namespace"`
	Functions int    `json:"functions"`
	Isolates  int    `json:"isolates"`
	Calls     uint64 `json:"calls"`
	Errors    uint64 `json:"errors"`
	// WorkerPid is the process id of the namespace's worker, as the
	// node's machine sees it; 0 when none runs.
	WorkerPid int `json:"worker_pid,omitempty"`
}
