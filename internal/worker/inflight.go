package worker

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A worker with its own NATS connection takes its calls straight from the
// server, so when it dies the node cannot know from its own bookkeeping
// which callers wait in vain. The worker writes the reply subject of each
// call it accepts into an inFlight table, a memory region the node creates
// and maps too, and clears the slot once the call is answered; after the
// worker's death the node reads what is left and answers those calls with
// 503. Plain stores suffice: the node reads only once the process is gone.
const (
	slotSize      = 256
	maxReplyLen   = slotSize - 4 // a slot: u32 length, then the subject
	inFlightSlots = 16384        // 4 MiB of address space; pages are touched as used
)

// inFlight is the table, on either side.
type inFlight struct {
	mem []byte

	mu   sync.Mutex
	free []int32 // slots released, reused first so few pages are touched
	next int32   // slots never used start here
}

// newInFlight creates a table to share with a worker: the memfd is what
// the worker gets, the mapping stays with the caller.
func newInFlight() (*inFlight, *os.File, error) {
	fd, err := unix.MemfdCreate("natsfn-inflight", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("in-flight table: %w", err)
	}
	f := os.NewFile(uintptr(fd), "inflight")
	if err := f.Truncate(slotSize * inFlightSlots); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("in-flight table: %w", err)
	}
	t, err := mapInFlight(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return t, f, nil
}

// mapInFlight maps a table the node created.
func mapInFlight(f *os.File) (*inFlight, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("in-flight table: %w", err)
	}
	size := st.Size() - st.Size()%slotSize
	if size <= 0 {
		return nil, fmt.Errorf("in-flight table of %d bytes", st.Size())
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("in-flight table: %w", err)
	}
	return &inFlight{mem: mem}, nil
}

// Begin records reply in a free slot. A reply too long for a slot, or a
// full table, is not recorded (-1): that call goes unanswered if the
// worker dies.
func (t *inFlight) Begin(reply string) any {
	if len(reply) > maxReplyLen {
		return -1
	}
	t.mu.Lock()
	var slot int32
	switch {
	case len(t.free) > 0:
		slot = t.free[len(t.free)-1]
		t.free = t.free[:len(t.free)-1]
	case int(t.next) < len(t.mem)/slotSize:
		slot = t.next
		t.next++
	default:
		t.mu.Unlock()
		return -1
	}
	t.mu.Unlock()
	off := int(slot) * slotSize
	copy(t.mem[off+4:], reply)
	// The length goes last: a slot is either empty or complete.
	atomic.StoreUint32(t.length(off), uint32(len(reply)))
	return int(slot)
}

// End frees the slot Begin returned.
func (t *inFlight) End(ref any) {
	slot, _ := ref.(int)
	if slot < 0 {
		return
	}
	atomic.StoreUint32(t.length(slot*slotSize), 0)
	t.mu.Lock()
	t.free = append(t.free, int32(slot))
	t.mu.Unlock()
}

func (t *inFlight) length(off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&t.mem[off]))
}

// orphans returns the replies still recorded: the calls a dead worker
// accepted and never answered.
func (t *inFlight) orphans() []string {
	var replies []string
	for off := 0; off+slotSize <= len(t.mem); off += slotSize {
		n := binary.NativeEndian.Uint32(t.mem[off:])
		if n > 0 && n <= maxReplyLen {
			replies = append(replies, string(t.mem[off+4:off+4+int(n)]))
		}
	}
	return replies
}

func (t *inFlight) close() {
	if t.mem != nil {
		unix.Munmap(t.mem)
		t.mem = nil
	}
}
