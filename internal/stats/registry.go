package stats

import (
	"slices"
	"strings"
	"sync"
)

// Other is the function label of the calls of a namespace's functions past
// its first MaxFunctions: they share one series.
const Other = "_other"

// DefaultMaxFunctions is how many functions of a namespace get a series of
// their own by default.
const DefaultMaxFunctions = 100

// Registry holds a node's series: one per function, and per namespace one
// more (Other) shared by the functions past the first maxFunctions, so
// that a tenant deploying thousands of functions adds at most
// maxFunctions+1 series. A function keeps its series for the life of the
// registry, also once removed, so counters never go back.
//
// Every function also has exact counters of its own (what `nats micro
// stats` shows): a function past the cap gets counters that count into
// Other as well, kept, like the series, for the life of the registry (a
// few hundred bytes per function name ever served).
type Registry struct {
	maxFunctions int

	mu         sync.Mutex
	namespaces map[string]*namespaceSeries
}

type namespaceSeries struct {
	functions map[string]*Function
	other     *Function
	// overflow are the counters of the functions past the cap, each
	// counting into other too.
	overflow map[string]*Function
}

// NewRegistry returns a registry giving at most maxFunctions functions of
// each namespace a series of their own; 0 means DefaultMaxFunctions.
func NewRegistry(maxFunctions int) *Registry {
	if maxFunctions <= 0 {
		maxFunctions = DefaultMaxFunctions
	}
	return &Registry{maxFunctions: maxFunctions, namespaces: map[string]*namespaceSeries{}}
}

// MaxFunctions is how many functions of a namespace get a series of their
// own.
func (r *Registry) MaxFunctions() int { return r.maxFunctions }

// For returns the counters a function counts into, the same for every
// call with the same names: its series, or once the namespace has
// maxFunctions series, counters of its own that also count into the
// namespace's Other.
func (r *Registry) For(namespace, name string) *Function {
	r.mu.Lock()
	defer r.mu.Unlock()
	ns := r.namespaces[namespace]
	if ns == nil {
		ns = &namespaceSeries{functions: map[string]*Function{}, other: &Function{}, overflow: map[string]*Function{}}
		r.namespaces[namespace] = ns
	}
	if f := ns.functions[name]; f != nil {
		return f
	}
	if f := ns.overflow[name]; f != nil {
		return f
	}
	f := &Function{}
	// A function named like Other cannot have a series of that label.
	if name == Other || len(ns.functions) >= r.maxFunctions {
		f.next = ns.other
		ns.overflow[name] = f
		return f
	}
	ns.functions[name] = f
	return f
}

// Series is the counts of one series.
type Series struct {
	Namespace, Function string
	Counts              Counts
}

// Snapshot reads every series that counted something, sorted by namespace
// and function.
func (r *Registry) Snapshot() []Series {
	r.mu.Lock()
	var out []Series
	for namespace, ns := range r.namespaces {
		for name, f := range ns.functions {
			out = append(out, Series{Namespace: namespace, Function: name, Counts: f.Snapshot()})
		}
		if c := ns.other.Snapshot(); !c.IsZero() {
			out = append(out, Series{Namespace: namespace, Function: Other, Counts: c})
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Series) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Function, b.Function)
	})
	return out
}
