package control_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/api"
)

// A subject trigger that overlaps another function's is refused without
// force, and deployed with a warning with it.
func TestSharedTriggers(t *testing.T) {
	e := start(t)
	script := []byte("() => 1")
	deploy := func(name string, force bool, triggers ...string) reply {
		req := deployReq(name, e.stage(t, "default."+name+"."+strings.Join(triggers, "_"), script), triggers...)
		req.Force = force
		return e.request(t, api.ControlSubject("default", api.OpDeploy), req)
	}
	deploy("orders", false, "orders.new").info(t)

	deploy("copy", false, "orders.new").wantError(t, api.CodeConflict, "function orders already serves orders.new")
	deploy("wild", false, "orders.*").wantError(t, api.CodeConflict, "trigger orders.* overlaps orders.new, which function orders serves")
	deploy("all", false, "x", "orders.>").wantError(t, api.CodeConflict, "--force")
	// Subjects that cannot carry the same message are no conflict; nor is
	// a namespace's function another namespace's.
	deploy("deeper", false, "orders.new.eu", "orders.*.eu").info(t)
	e.request(t, api.ControlSubject("team-b", api.OpDeploy), deployReq("orders", e.stage(t, "team-b.orders.1", script), "orders.new")).info(t)
	// A redeploy of a function on its own subjects is no conflict.
	deploy("orders", false, "orders.new").info(t)

	r := deploy("wild", true, "orders.*")
	var d api.Deployed
	if r.Error != nil || json.Unmarshal(*r.Data, &d) != nil {
		t.Fatalf("forced deploy: %+v", r)
	}
	if d.Spec.Name != "wild" || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "orders.* overlaps orders.new, which function orders serves") ||
		!strings.Contains(d.Warnings[0], "both functions get every message") {
		t.Errorf("forced deploy: %+v", d)
	}
	// A redeploy of orders is checked only for the subjects it adds.
	deploy("orders", false, "orders.new").info(t)
	deploy("orders", false, "orders.new", "orders.old").wantError(t, api.CodeConflict, "trigger orders.old overlaps orders.*, which function wild serves")
	// The one refused has nothing stored.
	e.request(t, api.ControlSubject("default", api.OpInfo), api.NameRequest{Name: "copy"}).wantError(t, api.CodeNotFound, "not found")
}

// versions and rollback at the API: the errors a client sees.
func TestVersionsRollbackErrors(t *testing.T) {
	e := start(t)
	for i, code := range []string{"() => 1", "() => 2"} {
		e.request(t, api.ControlSubject("default", api.OpDeploy), deployReq("f", e.stage(t, "default.f."+string(rune('a'+i)), []byte(code)), "f")).info(t)
	}
	r := e.request(t, api.ControlSubject("default", api.OpVersions), api.NameRequest{Name: "f"})
	var list api.VersionsResponse
	if r.Error != nil || json.Unmarshal(*r.Data, &list) != nil || len(list.Versions) != 2 || list.Versions[0].Version != 2 {
		t.Fatalf("versions: %+v %+v", r.Error, list)
	}
	rollback := func(body any) reply { return e.request(t, api.ControlSubject("default", api.OpRollback), body) }
	rollback(api.RollbackRequest{Name: "f", To: 7}).wantError(t, api.CodeNotFound, "version 7 of default/f is not kept (kept: 2, 1;")
	rollback(api.RollbackRequest{Name: "f", To: 2}).wantError(t, api.CodeBadRequest, "is the current version")
	rollback(api.RollbackRequest{Name: "nope"}).wantError(t, api.CodeNotFound, "not found")
	rollback(`{"name": "f", "too": 1}`).wantError(t, api.CodeBadRequest, "unknown field")
	e.request(t, api.ControlSubject("default", api.OpVersions), api.NameRequest{Name: "nope"}).wantError(t, api.CodeNotFound, "not found")
	if got := rollback(api.RollbackRequest{Name: "f"}).info(t); got.Version != 3 || got.RollbackOf != 1 || got.BundleDigest != api.Digest([]byte("() => 1")) {
		t.Errorf("rollback = %+v", got)
	}
}
