package api

// Draining a node, in the administrator's API:
//
//	$NATSFN.admin.v1.nodes.drain    DrainRequest -> DrainInfo (from the named node only)
//	$NATSFN.admin.v1.nodes.drained  Drained, published by a node once it has drained
//
// Every node listens on NodeDrainSubject outside any queue group; the one
// named in the request answers once its drain has begun, and the others
// stay silent. A node publishes Drained on NodeDrainedSubject as its last
// act, however its drain began (the drain request, SIGTERM, Close).
const (
	NodeDrainSubject   = AdminPrefix + ".nodes.drain"
	NodeDrainedSubject = AdminPrefix + ".nodes.drained"
)

// DrainRequest names the node to drain.
type DrainRequest struct {
	Name string `json:"name"`
}

// DrainInfo is a drain that has begun: the node takes no new calls nor
// control requests, and finishes what it has.
type DrainInfo struct {
	Name string `json:"name"`
	// Functions is how many function versions the node was serving.
	Functions int `json:"functions"`
	// Within bounds how long the drain takes: the longest timeout of the
	// functions served, plus the time to hand over subscriptions.
	Within Duration `json:"within"`
}

// Drained is a node that has finished its calls and is leaving.
type Drained struct {
	Name string   `json:"name"`
	Took Duration `json:"took"`
}
