package pool

import (
	"container/list"
	"sync"
)

// Budget bounds the isolates alive at once across the pools of a process,
// which the idle timeout alone does not: a namespace with thousands of
// functions each called once a minute would otherwise keep an isolate for
// every one of them. When a new isolate takes the budget past its limit,
// the isolate idle the longest is disposed. A budget is soft: when every
// isolate is busy, none is taken away (the worker's cgroup is the hard
// limit).
type Budget struct {
	max int

	mu       sync.Mutex
	live     int
	evicting int        // isolates told to go that have not gone yet
	idle     *list.List // of *holder, the longest idle first
}

// NewBudget returns a budget of max isolates; max <= 0 means no limit.
func NewBudget(max int) *Budget {
	if max <= 0 {
		return nil
	}
	return &Budget{max: max, idle: list.New()}
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
// Its methods are no-ops on a nil holder (no budget).
// holding is the owner's alone; elem and leaving change under b.mu.
type holder struct {
	b       *Budget
	evict   chan struct{} // signalled when its idle isolate must go
	elem    *list.Element // in b.idle while idle with an isolate
	holding bool          // it has an isolate counted in live
	leaving bool          // told to go
}

func (b *Budget) holder() *holder {
	if b == nil {
		return nil
	}
	return &holder{b: b, evict: make(chan struct{}, 1)}
}

// acquire counts a new isolate, telling the longest idle ones to go while
// the budget is over.
func (h *holder) acquire() {
	if h == nil || h.holding {
		return
	}
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	h.holding = true
	b.live++
	for b.live-b.evicting > b.max {
		front := b.idle.Front()
		if front == nil {
			return // every isolate is busy
		}
		victim := front.Value.(*holder)
		b.idle.Remove(front)
		victim.elem, victim.leaving = nil, true
		b.evicting++
		select {
		case victim.evict <- struct{}{}:
		default:
		}
	}
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
	if h.leaving {
		h.leaving = false
		b.evicting--
	}
	if h.elem != nil {
		b.idle.Remove(h.elem)
		h.elem = nil
	}
	select { // a signal for the isolate just released
	case <-h.evict:
	default:
	}
}

// idle marks the holder's isolate as a candidate for eviction.
func (h *holder) idle() {
	if h == nil || !h.holding {
		return
	}
	b := h.b
	b.mu.Lock()
	if h.elem == nil && !h.leaving {
		h.elem = b.idle.PushBack(h)
	}
	b.mu.Unlock()
}

// busy takes the holder's isolate off the candidates.
func (h *holder) busy() {
	if h == nil || !h.holding {
		return
	}
	b := h.b
	b.mu.Lock()
	if h.elem != nil {
		b.idle.Remove(h.elem)
		h.elem = nil
	}
	b.mu.Unlock()
}

// evicted is signalled when the isolate must go; nil without a budget.
func (h *holder) evicted() <-chan struct{} {
	if h == nil {
		return nil
	}
	return h.evict
}
