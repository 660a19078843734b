package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
)

// triggerFlags set the triggers: given one, the triggers are those the
// command line gives; given none, a redeploy keeps the deployed ones.
var triggerFlags = []string{"trigger", "consume", "max-deliver", "backoff", "schedule", "timezone", "watch"}

// precheckSpec checks a spec before anything is sent. When the deployed
// version may give the triggers (mayKeep), only what the flags give is
// checked: whether there are triggers waits for keepDeployed.
func precheckSpec(spec api.FunctionSpec, mayKeep bool) error {
	if mayKeep && len(spec.TriggerKinds()) == 0 {
		spec.Triggers = []string{"kept"}
	}
	return checkSpec(spec)
}

// keepDeployed completes spec with the deployed version's value of each
// setting the command line does not give, so that a redeploy that repeats
// no flag changes only the code (a redeploy without --env used to drop the
// env). It returns the line that says what it kept, empty when nothing,
// and checks the spec: a new function must give its triggers.
func keepDeployed(ctx context.Context, c *client.Client, spec *api.FunctionSpec, given map[string]bool) (string, error) {
	deployed, err := c.Info(ctx, spec.Name)
	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.Code == api.CodeNotFound {
		return "", checkSpec(*spec)
	}
	if err != nil {
		return "", err
	}
	d := deployed.Spec
	var kept []string
	keep := func(flag string, has bool, what string, copyIt func()) {
		if given[flag] || !has {
			return
		}
		copyIt()
		kept = append(kept, what)
	}
	if !slices.ContainsFunc(triggerFlags, func(f string) bool { return given[f] }) {
		spec.Triggers, spec.Stream, spec.Schedule, spec.Watch = d.Triggers, d.Stream, d.Schedule, d.Watch
		kept = append(kept, "triggers ("+triggerSummary(d)+")")
	}
	keep("env", len(d.Env) > 0, "env ("+strings.Join(sortedKeys(d.Env), ", ")+")", func() { spec.Env = d.Env })
	keep("timeout", d.Timeout != 0, "timeout "+d.Timeout.D().String(), func() { spec.Timeout = d.Timeout })
	keep("memory", d.HeapBytes != 0, "memory "+formatBytes(d.HeapBytes), func() { spec.HeapBytes = d.HeapBytes })
	keep("concurrency", d.Concurrency != 0, fmt.Sprintf("concurrency %d", d.Concurrency), func() { spec.Concurrency = d.Concurrency })
	keep("http-allow", len(d.HTTPAllow) > 0, "http-allow ("+strings.Join(d.HTTPAllow, ", ")+")", func() { spec.HTTPAllow = d.HTTPAllow })
	keep("disable", len(d.Disable) > 0, "disable ("+strings.Join(d.Disable, ", ")+")", func() { spec.Disable = d.Disable })
	if err := checkSpec(*spec); err != nil {
		return "", err
	}
	if len(kept) == 0 {
		return "", nil
	}
	return printable(fmt.Sprintf("kept from version %d: %s (--reset starts from the defaults)", deployed.Version, strings.Join(kept, ", "))), nil
}
