package pool

import (
	"sync"
	"sync/atomic"
)

// Budget bounds the isolates alive at once across the pools of a process,
// which the idle timeout alone does not: a namespace with thousands of
// functions each called once a minute would otherwise keep an isolate for
// every one of them. When a new isolate takes the budget past its limit,
// the isolate used the longest ago among the idle ones is disposed. A
// budget is soft: when every isolate is busy, none is taken away (the
// worker's cgroup is the hard limit).
//
// A call costs two atomic stores (busy, then idle with its start time);
// the choice of whom to evict is made only when an isolate is created,
// which costs milliseconds anyway.
type Budget struct {
	max int

	mu       sync.Mutex
	live     int
	evicting int                  // isolates told to go that have not gone yet
	holders  map[*holder]struct{} // those with an isolate
}

// NewBudget returns a budget of max isolates; max <= 0 means no limit.
func NewBudget(max int) *Budget {
	if max <= 0 {
		return nil
	}
	return &Budget{max: max, holders: map[*holder]struct{}{}}
}

// Live reports the isolates alive under the budget.
func (b *Budget) Live() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live
}

// holder is one pool worker's share of a budget: at most one isolate.
// Its methods are no-ops on a nil holder (no budget). holding is the
// owner's alone; leaving changes under b.mu.
type holder struct {
	b        *Budget
	evict    chan struct{} // signalled when its idle isolate must go
	busy     atomic.Bool
	lastUsed atomic.Int64 // when its last call started, unix ns
	holding  bool         // it has an isolate counted in live
	leaving  bool         // told to go
}

func (b *Budget) holder() *holder {
	if b == nil {
		return nil
	}
	return &holder{b: b, evict: make(chan struct{}, 1)}
}

// acquire counts a new isolate, telling the idle ones used the longest
// ago to go while the budget is over.
func (h *holder) acquire() {
	if h == nil || h.holding {
		return
	}
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	h.holding = true
	b.live++
	b.holders[h] = struct{}{}
	for b.live-b.evicting > b.max {
		victim := b.longestIdle()
		if victim == nil {
			return // every isolate is busy
		}
		victim.leaving = true
		b.evicting++
		select {
		case victim.evict <- struct{}{}:
		default:
		}
	}
}

// longestIdle is the idle holder used the longest ago, nil if none.
func (b *Budget) longestIdle() *holder {
	var oldest *holder
	for h := range b.holders {
		if h.leaving || h.busy.Load() {
			continue
		}
		if oldest == nil || h.lastUsed.Load() < oldest.lastUsed.Load() {
			oldest = h
		}
	}
	return oldest
}

// release uncounts the holder's isolate, disposed by the caller.
func (h *holder) release() {
	if h == nil || !h.holding {
		return
	}
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	h.holding = false
	b.live--
	delete(b.holders, h)
	if h.leaving {
		h.leaving = false
		b.evicting--
	}
	select { // a signal for the isolate just released
	case <-h.evict:
	default:
	}
}

// idle marks the holder's isolate, last used at, a candidate for eviction.
func (h *holder) idle(at int64) {
	if h == nil {
		return
	}
	h.lastUsed.Store(at)
	h.busy.Store(false)
}

// working takes the holder's isolate off the candidates.
func (h *holder) working() {
	if h != nil {
		h.busy.Store(true)
	}
}

// evicted is signalled when the isolate must go; nil without a budget.
func (h *holder) evicted() <-chan struct{} {
	if h == nil {
		return nil
	}
	return h.evict
}
