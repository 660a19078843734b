package api

import "time"

// The control API is NATS request/reply on subjects under ControlPrefix:
//
//	$NATSFN.v1.<namespace>.deploy   DeployRequest  -> FunctionInfo
//	$NATSFN.v1.<namespace>.ls       (empty)        -> ListResponse
//	$NATSFN.v1.<namespace>.info     NameRequest    -> FunctionInfo
//	$NATSFN.v1.<namespace>.rm       NameRequest    -> Removed (the function as it was)
//	$NATSFN.v1.<namespace>.versions NameRequest    -> VersionsResponse
//	$NATSFN.v1.<namespace>.rollback RollbackRequest -> Deployed
//
// Every reply is a JSON Response envelope; a failed request also carries the
// Nats-Service-Error headers. The namespace is in the subject so that NATS
// permissions can scope a tenant to its own namespace.
const (
	ControlPrefix = "$NATSFN.v1"
	// LogPrefix is where console output and invocation failures are
	// published: $NATSFN.logs.<namespace>.<name>, one LogEntry per message.
	LogPrefix = "$NATSFN.logs"
	// LogStream keeps recent log entries so `natsfn logs` can show history.
	LogStream = "NATSFN_LOGS"
	// FunctionsBucket is the KV bucket of desired state: key
	// <namespace>.<name>, value a FunctionInfo.
	FunctionsBucket = "natsfn_functions"
	// BundlesBucket is the object store holding each function's bundle under
	// <namespace>.<name>.<hex SHA-256 of the bundle>: named by content, so a
	// FunctionInfo always finds its own bundle however deploys interleave.
	BundlesBucket = "natsfn_bundles"
	// UploadsBucket is where clients stage a bundle before deploying it, in
	// the account the deploy request comes from.
	UploadsBucket = "natsfn_uploads"
	// NamespacesBucket is the KV bucket of namespaces: key the name, value
	// the namespace's account and limits.
	NamespacesBucket = "natsfn_namespaces"
)

// Control operations.
const (
	OpDeploy = "deploy"
	OpList   = "ls"
	OpInfo   = "info"
	OpRemove = "rm"
	// OpVersions lists the versions of a function that are kept, and
	// OpRollback deploys one of them again as a new version.
	OpVersions = "versions"
	OpRollback = "rollback"
)

// KeptVersions is how many versions of each function are kept, the
// current one included: the history of the functions bucket, and the
// bundles that history names. Older versions cannot be rolled back to.
const KeptVersions = 10

// ControlSubject returns the subject of op in namespace.
func ControlSubject(namespace, op string) string {
	return ControlPrefix + "." + namespace + "." + op
}

// LogSubject returns the log subject of a function.
func LogSubject(namespace, name string) string {
	return LogPrefix + "." + namespace + "." + name
}

// DeployRequest asks a node to deploy a function whose bundle the client has
// staged in UploadsBucket under Upload.
type DeployRequest struct {
	Spec   FunctionSpec `json:"spec"`
	Upload string       `json:"upload"`
	// KeepData keeps the KV bucket and object store that a removed function
	// of the same name left. Without it, a deploy of a name that has no
	// function starts with empty ones. A redeploy always keeps its data.
	KeepData bool `json:"keep_data,omitempty"`
	// Force deploys even though another function of the namespace serves
	// a subject that overlaps one of the spec's triggers; the reply then
	// warns that both get those messages.
	Force bool `json:"force,omitempty"`
}

// Deployed is the reply to deploy and rollback: the function as stored, and
// what the caller should know about it.
type Deployed struct {
	FunctionInfo
	// Warnings are one-line notices, such as a trigger shared with another
	// function (deployed with Force).
	Warnings []string `json:"warnings,omitempty"`
}

// RollbackRequest asks for an earlier version of a function to be deployed
// again, as a new version.
type RollbackRequest struct {
	Name string `json:"name"`
	// To is the version to go back to; zero means the one before the
	// current.
	To uint64 `json:"to,omitempty"`
	// Force: as in DeployRequest.
	Force bool `json:"force,omitempty"`
}

// VersionsResponse lists the kept versions of a function, newest (the
// current one) first.
type VersionsResponse struct {
	Versions []FunctionInfo `json:"versions"`
}

// NameRequest names one function.
type NameRequest struct {
	Name string `json:"name"`
	// Purge (rm only) deletes the function's KV bucket and object store
	// too; rm keeps them otherwise. It also deletes what a function removed
	// earlier left.
	Purge bool `json:"purge,omitempty"`
}

// Removed is the reply to rm: the function as it was, and what became of
// its data, each item named as "KV bucket fn_..." or "object store fn_...".
type Removed struct {
	FunctionInfo
	// Purged is the data rm deleted (with Purge).
	Purged []string `json:"purged,omitempty"`
	// Kept is the data rm left (without Purge): a later deploy of the name
	// deletes it unless told to keep it.
	Kept []string `json:"kept,omitempty"`
}

// FunctionInfo is a deployed function: its spec and its bundle.
type FunctionInfo struct {
	Spec         FunctionSpec `json:"spec"`
	BundleDigest string       `json:"bundle_digest"`
	BundleSize   int64        `json:"bundle_size"`
	Revision     uint64       `json:"revision,omitempty"`
	// Version counts the deploys of the function: 1 for the first, one
	// more for each redeploy or rollback. Unlike Revision (the bucket's
	// sequence, shared by all functions) it names a version to roll back
	// to. A function stored before versions were counted reads as 1.
	Version    uint64    `json:"version,omitempty"`
	DeployedAt time.Time `json:"deployed_at"`
	// RollbackOf is the version this one was rolled back to, when a
	// rollback made it.
	RollbackOf uint64 `json:"rollback_of,omitempty"`
}

// ListResponse lists a namespace's functions, sorted by name.
type ListResponse struct {
	Functions []FunctionInfo `json:"functions"`
}

// Response is the envelope of every control reply: Error is set on failure,
// Data otherwise.
type Response[T any] struct {
	Data  *T     `json:"data,omitempty"`
	Error *Error `json:"error,omitempty"`
}

// LogEntry is one line of a function's log.
type LogEntry struct {
	Time      time.Time `json:"time"`
	Namespace string    `json:"namespace"`
	Function  string    `json:"function"`
	Level     string    `json:"level"`
	Message   string    `json:"message"`
	Node      string    `json:"node,omitempty"`
}
