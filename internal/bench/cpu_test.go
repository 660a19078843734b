package bench

import (
	"errors"
	"os"
	"testing"
	"time"
)

// A process's CPU time is read from /proc and grows with work; one that
// does not exist is not visible.
func TestProcessCPU(t *testing.T) {
	s := NewCPUSampler(os.Getpid(), -1)
	before := s.Sample()
	if before[0] <= 0 || before[1] != -1 {
		t.Fatalf("sample %v", before)
	}
	spinUntil := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(spinUntil) {
	}
	used := s.Sample().Since(before)
	if used[0] <= 0 || used[1] != -1 {
		t.Errorf("used %v", used)
	}
	if _, err := ProcessCPU(-1); !errors.Is(err, ErrNoCPU) {
		t.Errorf("pid -1: %v", err)
	}
	if MachineID() == "" {
		t.Error("no machine id")
	}
}
