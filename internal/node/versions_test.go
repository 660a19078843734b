package node

import (
	"context"
	"testing"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
)

// Three deploys keep three versions; a rollback serves an earlier one's
// code as a new version, and a tenant reaches only its own.
func TestVersionsAndRollback(t *testing.T) {
	_, a, _, ncA, ncB := tenantsAB(t, Config{})
	ctx := context.Background()
	for _, v := range []string{"v1", "v2", "v3"} {
		deploy(t, a, "hello", `() => "`+v+`"`, "hello")
		if got := string(invoke(t, ncA, "hello", nil).Data); got != v {
			t.Fatalf("after deploying %s the function answers %q", v, got)
		}
	}
	versions, err := a.Versions(ctx, "hello")
	if err != nil || len(versions) != 3 {
		t.Fatalf("versions: %v %v", versions, err)
	}
	for i, want := range []uint64{3, 2, 1} {
		if versions[i].Version != want {
			t.Errorf("versions[%d] is version %d, want %d", i, versions[i].Version, want)
		}
	}

	info, err := a.Rollback(ctx, "hello", 0)
	if err != nil || info.Version != 4 || info.RollbackOf != 2 || info.BundleDigest != versions[1].BundleDigest {
		t.Fatalf("rollback: %+v %v", info, err)
	}
	// A rollback answers once it is served, as a deploy does.
	if got := string(invoke(t, ncA, "hello", nil).Data); got != "v2" {
		t.Fatalf("after the rollback the function answers %q, want v2", got)
	}
	if info, err = a.Rollback(ctx, "hello", 1); err != nil || info.Version != 5 || info.RollbackOf != 1 {
		t.Fatalf("rollback --to 1: %+v %v", info, err)
	}
	if got := string(invoke(t, ncA, "hello", nil).Data); got != "v1" {
		t.Fatalf("after the rollback to 1 the function answers %q", got)
	}
	if versions, err = a.Versions(ctx, "hello"); err != nil || len(versions) != 5 || versions[0].RollbackOf != 1 {
		t.Fatalf("versions after rollbacks: %v %v", versions, err)
	}
	if _, err := a.Rollback(ctx, "hello", 99); api.CodeOf(err) != api.CodeNotFound {
		t.Errorf("rollback to a version never deployed: %v", err)
	}

	// B names A's namespace: refused; B's own namespace has no such function.
	asA, err := client.New(ncB, client.WithNamespace("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asA.Versions(ctx, "hello"); api.CodeOf(err) != api.CodeForbidden {
		t.Errorf("B lists A's versions: %v", err)
	}
	if _, err := asA.Rollback(ctx, "hello", 2); api.CodeOf(err) != api.CodeForbidden {
		t.Errorf("B rolls back A's function: %v", err)
	}
	if got := string(invoke(t, ncA, "hello", nil).Data); got != "v1" {
		t.Errorf("A's function answers %q after B's attempts", got)
	}
}
