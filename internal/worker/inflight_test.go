package worker

import (
	"slices"
	"strings"
	"testing"
)

// The node reads what the worker left in the table, through its own
// mapping of the same memory.
func TestInFlightTable(t *testing.T) {
	node, file, err := newInFlight()
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	defer node.close()
	worker, err := mapInFlight(file)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.close()

	a := worker.Begin("_INBOX.a.1")
	b := worker.Begin("_INBOX.b.2")
	c := worker.Begin("_INBOX.c.3")
	worker.End(b)
	d := worker.Begin("_INBOX.d.4") // reuses b's slot
	if d != b {
		t.Fatalf("slot %v not reused (got %v)", b, d)
	}
	if long := worker.Begin(strings.Repeat("x", maxReplyLen+1)); long != -1 {
		t.Fatalf("a reply too long for a slot was recorded in %v", long)
	}
	worker.End(-1) // nothing recorded, nothing to free
	got := node.orphans()
	slices.Sort(got)
	if want := []string{"_INBOX.a.1", "_INBOX.c.3", "_INBOX.d.4"}; !slices.Equal(got, want) {
		t.Fatalf("orphans %q, want %q", got, want)
	}
	for _, ref := range []any{a, c, d} {
		worker.End(ref)
	}
	if got := node.orphans(); len(got) != 0 {
		t.Fatalf("orphans after every call ended: %q", got)
	}
}

func TestInFlightTableFull(t *testing.T) {
	table, file, err := newInFlight()
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	defer table.close()
	for i := 0; i < inFlightSlots; i++ {
		if table.Begin("r") == -1 {
			t.Fatalf("table full after %d", i)
		}
	}
	if ref := table.Begin("r"); ref != -1 {
		t.Fatalf("a full table recorded %v", ref)
	}
	table.End(7)
	if ref := table.Begin("r"); ref != 7 {
		t.Fatalf("freed slot not reused: %v", ref)
	}
}

func BenchmarkInFlight(b *testing.B) {
	table, file, err := newInFlight()
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	defer table.close()
	b.ReportAllocs()
	for b.Loop() {
		table.End(table.Begin("_INBOX.abcdefghijklmnopqrstuv.12345"))
	}
}
