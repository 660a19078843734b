package control

import (
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsfn/natsfn/api"
)

// checkShared refuses a spec whose subject triggers overlap those of
// another function of its namespace, unless force: each function serves
// its subjects in a queue group of its own, so both would run on every
// message and a requester would get whichever reply came first. With force
// it returns a warning per overlap instead. A redeploy is checked only for
// the subjects it adds.
//
// The check reads the namespace's functions before the spec is stored:
// two deploys racing onto one subject may both pass. It is there to catch
// a mistake, not to lock subjects.
//
// Consumer-based triggers are not checked: each function has its own
// durable consumer, so two of them on one stream or bucket each see every
// message, which is what a second consumer is for.
func (s *Server) checkShared(ctx context.Context, spec api.FunctionSpec, force bool) ([]string, error) {
	if len(spec.Triggers) == 0 {
		return nil, nil
	}
	fns, err := s.st.List(ctx, spec.Namespace)
	if err != nil {
		return nil, err
	}
	// A subject the function serves already was checked when it came: a
	// function forced onto it later does not make the redeploys of this
	// one need force too.
	var served []string
	for _, fn := range fns {
		if fn.Spec.Name == spec.Name {
			served = fn.Spec.Triggers
		}
	}
	var shared []string
	for _, fn := range fns {
		if fn.Spec.Name == spec.Name {
			continue
		}
		for _, t := range spec.Triggers {
			if slices.Contains(served, t) {
				continue
			}
			for _, other := range fn.Spec.Triggers {
				if !server.SubjectsCollide(t, other) {
					continue
				}
				if t == other {
					shared = append(shared, fmt.Sprintf("function %s already serves %s", fn.Spec.Name, t))
				} else {
					shared = append(shared, fmt.Sprintf("trigger %s overlaps %s, which function %s serves", t, other, fn.Spec.Name))
				}
			}
		}
	}
	if len(shared) == 0 {
		return nil, nil
	}
	if !force {
		more := ""
		if len(shared) > 1 {
			more = fmt.Sprintf(" (and %d more overlaps)", len(shared)-1)
		}
		return nil, api.Errorf(api.CodeConflict, "%s%s: both functions would get every message on it, and a request would take whichever reply comes first; deploy with --force to do so anyway",
			shared[0], more)
	}
	warnings := make([]string, len(shared))
	for i, sh := range shared {
		warnings[i] = sh + ": both functions get every message on it, and a request takes whichever reply comes first"
	}
	return warnings, nil
}
