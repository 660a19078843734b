// Package microsvc answers the NATS services protocol ($SRV.PING, $SRV.INFO
// and $SRV.STATS, with and without a service name and instance id) for
// many services on one connection, so that the stock `nats micro ls|info|
// stats` show each of them. natsfn makes every function a service this
// way: each node serving it is one instance.
//
// It does not use nats.go's micro.AddService for each function: a
// micro.Service subscribes three subjects for each of its three verbs and
// keeps its own counters, so 10,000 functions on a node would cost 90,000
// subscriptions and counters beside natsfn's. A Responder subscribes
// `$SRV.>` once and answers for every service it holds, dispatching by
// name, with micro's own reply types and the counters natsfn already keeps
// (internal/stats).
package microsvc

import (
	"encoding/json"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"

	"github.com/natsfn/natsfn/internal/stats"
)

// Subject is what a Responder subscribes: every verb, every service name
// and instance id.
const Subject = "$SRV.>"

// Endpoint is a subject a service answers on.
type Endpoint struct {
	Name, Subject, QueueGroup string
	Metadata                  map[string]string
}

// Service is a service as its instance describes it. Its fields are not
// changed once the Service is given to Set (Set again to change them).
type Service struct {
	// Name follows micro's rule: letters, digits, '-' and '_'.
	Name, Version, Description string
	Metadata                   map[string]string
	Endpoints                  []Endpoint
	// Stats counts the instance's requests. natsfn counts a function's
	// calls, not each trigger's: they all show on the first endpoint.
	Stats *stats.Function
}

// Responder answers the services protocol for the services it holds, on
// one connection.
type Responder struct {
	nc  *nats.Conn
	log *slog.Logger
	sub *nats.Subscription

	mu     sync.Mutex
	byKey  map[string]*instance
	byName map[string]map[string]*instance // by key
}

// instance is a service as this Responder serves it.
type instance struct {
	svc     Service
	id      string
	started time.Time
	// base are the counts when the instance started: its stats are what
	// was counted since, as a micro.Service's are.
	base      stats.Counts
	baseError *stats.LastError
}

// Start subscribes nc to the services protocol. It does not wait for the
// server to have the subscription.
func Start(nc *nats.Conn, log *slog.Logger) (*Responder, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Responder{nc: nc, log: log, byKey: map[string]*instance{}, byName: map[string]map[string]*instance{}}
	sub, err := nc.Subscribe(Subject, r.handle)
	if err != nil {
		return nil, err
	}
	r.sub = sub
	return r, nil
}

// Set serves svc as the instance known by key, or changes what that
// instance says of itself: it keeps its id, start and counts.
func (r *Responder) Set(key string, svc Service) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.byKey[key]
	if in == nil {
		in = &instance{id: nuid.Next(), started: time.Now().UTC(), base: svc.Stats.Snapshot(), baseError: svc.Stats.LastError()}
		r.byKey[key] = in
	} else if in.svc.Name != svc.Name {
		r.unindex(key, in.svc.Name)
	}
	in.svc = svc
	if r.byName[svc.Name] == nil {
		r.byName[svc.Name] = map[string]*instance{}
	}
	r.byName[svc.Name][key] = in
}

// Remove stops serving the instance known by key, and says whether the
// Responder holds no instance any more.
func (r *Responder) Remove(key string) (empty bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in := r.byKey[key]; in != nil {
		delete(r.byKey, key)
		r.unindex(key, in.svc.Name)
	}
	return len(r.byKey) == 0
}

func (r *Responder) unindex(key, name string) {
	delete(r.byName[name], key)
	if len(r.byName[name]) == 0 {
		delete(r.byName, name)
	}
}

// Close unsubscribes; it is safe to call more than once.
func (r *Responder) Close() {
	if err := r.sub.Unsubscribe(); err != nil && err != nats.ErrBadSubscription && err != nats.ErrConnectionClosed {
		r.log.Warn("services protocol: unsubscribe failed", "err", err)
	}
}

// handle answers one request: one reply per instance that matches.
func (r *Responder) handle(msg *nats.Msg) {
	// The connection may publish where its account may: whoever chose a
	// reply subject on $JS.API or the like wants it to act for them.
	// Clients' inboxes are never on $ subjects.
	if msg.Reply == "" || strings.HasPrefix(msg.Reply, "$") {
		return
	}
	tokens := strings.Split(msg.Subject, ".") // $SRV VERB [NAME [ID]]
	if len(tokens) < 2 || len(tokens) > 4 {
		return
	}
	var name, id string
	if len(tokens) > 2 {
		name = tokens[2]
	}
	if len(tokens) > 3 {
		id = tokens[3]
	}
	var reply func(in *instance) any
	switch tokens[1] {
	case "PING":
		reply = ping
	case "INFO":
		reply = info
	case "STATS":
		reply = statsOf
	default:
		return
	}
	for _, in := range r.match(name, id) {
		data, err := json.Marshal(reply(&in))
		if err == nil {
			err = r.nc.Publish(msg.Reply, data)
		}
		if err != nil {
			r.log.Warn("services protocol: reply failed", "subject", msg.Subject, "err", err)
			return
		}
	}
}

// match copies the instances with that name (any when empty) and id (any
// when empty).
func (r *Responder) match(name, id string) []instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	from := r.byKey
	if name != "" {
		from = r.byName[name]
	}
	out := make([]instance, 0, len(from))
	for _, in := range from {
		if id == "" || in.id == id {
			out = append(out, *in)
		}
	}
	return out
}

func identity(in *instance) micro.ServiceIdentity {
	return micro.ServiceIdentity{Name: in.svc.Name, ID: in.id, Version: in.svc.Version, Metadata: maps.Clone(in.svc.Metadata)}
}

func ping(in *instance) any {
	return micro.Ping{ServiceIdentity: identity(in), Type: micro.PingResponseType}
}

func info(in *instance) any {
	endpoints := make([]micro.EndpointInfo, 0, len(in.svc.Endpoints))
	for _, e := range in.svc.Endpoints {
		endpoints = append(endpoints, micro.EndpointInfo{Name: e.Name, Subject: e.Subject, QueueGroup: e.QueueGroup, Metadata: maps.Clone(e.Metadata)})
	}
	return micro.Info{ServiceIdentity: identity(in), Type: micro.InfoResponseType, Description: in.svc.Description, Endpoints: endpoints}
}

// endpointData is the Data of the first endpoint's stats: what natsfn
// counts beyond micro's fields.
type endpointData struct {
	ClientErrors   uint64            `json:"client_errors"`
	ServerErrors   uint64            `json:"server_errors"`
	LastErrorCode  int               `json:"last_error_code,omitempty"`
	HostCalls      map[string]uint64 `json:"host_calls,omitempty"`
	HostCallErrors map[string]uint64 `json:"host_call_errors,omitempty"`
}

func statsOf(in *instance) any {
	c := in.svc.Stats.Snapshot()
	calls := c.Calls - in.base.Calls
	clientErrors := c.ClientErrors - in.base.ClientErrors
	serverErrors := c.ServerErrors - in.base.ServerErrors
	took := time.Duration(c.LatencyNanos - in.base.LatencyNanos)
	out := micro.Stats{ServiceIdentity: identity(in), Type: micro.StatsResponseType, Started: in.started,
		Endpoints: make([]*micro.EndpointStats, 0, len(in.svc.Endpoints))}
	for i, e := range in.svc.Endpoints {
		es := &micro.EndpointStats{Name: e.Name, Subject: e.Subject, QueueGroup: e.QueueGroup}
		if i == 0 {
			es.NumRequests = int(calls)
			es.NumErrors = int(clientErrors + serverErrors)
			es.ProcessingTime = took
			if calls > 0 {
				es.AverageProcessingTime = took / time.Duration(calls)
			}
			data := endpointData{ClientErrors: clientErrors, ServerErrors: serverErrors}
			if le := in.svc.Stats.LastError(); le != nil && le != in.baseError {
				// As micro writes it: "CODE:description".
				es.LastError = strconv.Itoa(le.Code) + ":" + le.Message
				data.LastErrorCode = le.Code
			}
			for s := range stats.NumServices {
				if n := c.HostCalls[s] - in.base.HostCalls[s]; n > 0 {
					if data.HostCalls == nil {
						data.HostCalls = map[string]uint64{}
					}
					data.HostCalls[stats.ServiceName(s)] = n
				}
				if n := c.HostErrors[s] - in.base.HostErrors[s]; n > 0 {
					if data.HostCallErrors == nil {
						data.HostCallErrors = map[string]uint64{}
					}
					data.HostCallErrors[stats.ServiceName(s)] = n
				}
			}
			es.Data, _ = json.Marshal(data)
		}
		out.Endpoints = append(out.Endpoints, es)
	}
	return out
}
