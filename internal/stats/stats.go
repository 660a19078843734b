// Package stats counts what functions do: calls, errors, latency and host
// calls. Counting is cheap enough for the hot path (atomic adds, no lock,
// no allocation), and the same counters serve in the node and inside a
// worker process, which sends them to the node in batches (Take, Append,
// Parse). It knows nothing of Prometheus: the metrics package exports a
// Registry's series.
package stats

import (
	"encoding/binary"
	"sync/atomic"
	"time"
)

// bucketBounds are the upper bounds of the latency histogram's buckets; a
// last bucket takes everything slower.
var bucketBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
}

// NumBuckets is the number of latency buckets, the last one unbounded.
const NumBuckets = len(bucketBounds) + 1

// BucketBound is the upper bound of bucket i < NumBuckets-1.
func BucketBound(i int) time.Duration { return bucketBounds[i] }

// The host services whose calls are counted, as JavaScript names them.
const (
	ServiceKV = iota
	ServiceObjectStore
	ServiceMessaging
	ServiceHTTP
	NumServices
)

// ServiceName is the name of service i < NumServices.
func ServiceName(i int) string {
	return [NumServices]string{"kv", "objectStore", "messaging", "http"}[i]
}

// ServiceOf is the service of a host-service operation ("kv.get"), or -1.
func ServiceOf(op string) int {
	for i, prefix := range [NumServices]string{"kv.", "obj.", "msg.", "http."} {
		if len(op) > len(prefix) && op[:len(prefix)] == prefix {
			return i
		}
	}
	return -1
}

// Counts are plain counter values: a snapshot, or a delta between two.
type Counts struct {
	Calls uint64
	// ClientErrors are calls answered with a 4xx code (bad input, timed
	// out, too large, over concurrency), ServerErrors with a 5xx code
	// (the function threw or failed, unavailable).
	ClientErrors, ServerErrors uint64
	// LatencyNanos adds up the calls' latency; Buckets counts the calls
	// per latency bucket (not cumulative).
	LatencyNanos uint64
	Buckets      [NumBuckets]uint64
	// HostCalls and HostErrors count host-service calls by service.
	HostCalls, HostErrors [NumServices]uint64
}

// Errors are the calls answered with an error.
func (c *Counts) Errors() uint64 { return c.ClientErrors + c.ServerErrors }

// IsZero says nothing was counted.
func (c *Counts) IsZero() bool { return *c == Counts{} }

// Merge adds o to c.
func (c *Counts) Merge(o *Counts) {
	c.Calls += o.Calls
	c.ClientErrors += o.ClientErrors
	c.ServerErrors += o.ServerErrors
	c.LatencyNanos += o.LatencyNanos
	for i := range c.Buckets {
		c.Buckets[i] += o.Buckets[i]
	}
	for i := range c.HostCalls {
		c.HostCalls[i] += o.HostCalls[i]
		c.HostErrors[i] += o.HostErrors[i]
	}
}

// Function counts the calls of one function, or of the functions that
// share its series. The zero value is ready; every method is a no-op on
// nil, so code that counts nothing passes nil.
type Function struct {
	calls, clientErrors, serverErrors, latencyNanos atomic.Uint64
	buckets                                         [NumBuckets]atomic.Uint64
	hostCalls, hostErrors                           [NumServices]atomic.Uint64
	lastError                                       atomic.Pointer[LastError]
	// next counts everything f counts too (the series f shares).
	next *Function
}

// LastError is the last error a function answered a call with.
type LastError struct {
	Code    int
	Message string
}

// MaxErrorMessage bounds the message of a LastError, in bytes.
const MaxErrorMessage = 256

// CallFailed counts a call answered with an error (a code >= 400) and
// keeps it as the last error.
func (f *Function) CallFailed(took time.Duration, code int, message string) {
	if f == nil {
		return
	}
	f.Call(took, code)
	f.setLastError(code, message)
}

func (f *Function) setLastError(code int, message string) {
	for ; f != nil; f = f.next {
		if len(message) > MaxErrorMessage {
			message = message[:MaxErrorMessage]
		}
		f.lastError.Store(&LastError{Code: code, Message: message})
	}
}

// LastError is the last error kept, or nil.
func (f *Function) LastError() *LastError {
	if f == nil {
		return nil
	}
	return f.lastError.Load()
}

// TakeLastError returns the last error kept since the last TakeLastError,
// or nil: what a worker's report carries.
func (f *Function) TakeLastError() *LastError {
	if f == nil {
		return nil
	}
	return f.lastError.Swap(nil)
}

// AddLastError keeps e, reported from elsewhere, as the last error.
func (f *Function) AddLastError(e *LastError) {
	if f != nil && e != nil {
		f.setLastError(e.Code, e.Message)
	}
}

// Call counts a call that took took and was answered with code (0 when it
// succeeded).
func (f *Function) Call(took time.Duration, code int) {
	if f == nil {
		return
	}
	f.next.Call(took, code)
	f.calls.Add(1)
	switch {
	case code >= 500:
		f.serverErrors.Add(1)
	case code >= 400:
		f.clientErrors.Add(1)
	}
	took = max(took, 0)
	f.latencyNanos.Add(uint64(took))
	i := 0
	for i < len(bucketBounds) && took > bucketBounds[i] {
		i++
	}
	f.buckets[i].Add(1)
}

// HostCall counts a host-service call of service (ServiceOf), which failed
// or not.
func (f *Function) HostCall(service int, failed bool) {
	if f == nil || service < 0 || service >= NumServices {
		return
	}
	f.next.HostCall(service, failed)
	f.hostCalls[service].Add(1)
	if failed {
		f.hostErrors[service].Add(1)
	}
}

// Add adds counts counted elsewhere (a worker's report).
func (f *Function) Add(c *Counts) {
	if f == nil {
		return
	}
	f.next.Add(c)
	f.calls.Add(c.Calls)
	f.clientErrors.Add(c.ClientErrors)
	f.serverErrors.Add(c.ServerErrors)
	f.latencyNanos.Add(c.LatencyNanos)
	for i := range f.buckets {
		f.buckets[i].Add(c.Buckets[i])
	}
	for i := range f.hostCalls {
		f.hostCalls[i].Add(c.HostCalls[i])
		f.hostErrors[i].Add(c.HostErrors[i])
	}
}

// Snapshot reads the counters.
func (f *Function) Snapshot() Counts {
	return f.read(func(a *atomic.Uint64) uint64 { return a.Load() })
}

// Take reads the counters and sets them to zero: what was counted since
// the last Take, for a report that Add adds up elsewhere.
func (f *Function) Take() Counts { return f.read(func(a *atomic.Uint64) uint64 { return a.Swap(0) }) }

func (f *Function) read(get func(*atomic.Uint64) uint64) Counts {
	var c Counts
	if f == nil {
		return c
	}
	c.Calls = get(&f.calls)
	c.ClientErrors = get(&f.clientErrors)
	c.ServerErrors = get(&f.serverErrors)
	c.LatencyNanos = get(&f.latencyNanos)
	for i := range f.buckets {
		c.Buckets[i] = get(&f.buckets[i])
	}
	for i := range f.hostCalls {
		c.HostCalls[i] = get(&f.hostCalls[i])
		c.HostErrors[i] = get(&f.hostErrors[i])
	}
	return c
}

// countsWords is the number of uint64s of Counts in its binary form.
const countsWords = 4 + NumBuckets + 2*NumServices

// CountsSize is the size of Counts in its binary form.
const CountsSize = 8 * countsWords

// Append appends c's binary form: little-endian uint64s in field order.
func (c *Counts) Append(b []byte) []byte {
	le := binary.LittleEndian
	b = le.AppendUint64(b, c.Calls)
	b = le.AppendUint64(b, c.ClientErrors)
	b = le.AppendUint64(b, c.ServerErrors)
	b = le.AppendUint64(b, c.LatencyNanos)
	for _, v := range c.Buckets {
		b = le.AppendUint64(b, v)
	}
	for i := range c.HostCalls {
		b = le.AppendUint64(b, c.HostCalls[i])
	}
	for i := range c.HostErrors {
		b = le.AppendUint64(b, c.HostErrors[i])
	}
	return b
}

// Parse reads Counts in binary form from the start of b and returns the
// rest; ok is false when b is too short.
func Parse(b []byte) (c Counts, rest []byte, ok bool) {
	if len(b) < CountsSize {
		return c, b, false
	}
	le := binary.LittleEndian
	next := func() uint64 {
		v := le.Uint64(b)
		b = b[8:]
		return v
	}
	c.Calls, c.ClientErrors, c.ServerErrors, c.LatencyNanos = next(), next(), next(), next()
	for i := range c.Buckets {
		c.Buckets[i] = next()
	}
	for i := range c.HostCalls {
		c.HostCalls[i] = next()
	}
	for i := range c.HostErrors {
		c.HostErrors[i] = next()
	}
	return c, b, true
}

// AppendLastError appends e's binary form (nil too): a little-endian
// uint32 code (0: none), a uint32 length and the message.
func AppendLastError(b []byte, e *LastError) []byte {
	le := binary.LittleEndian
	if e == nil {
		return le.AppendUint64(b, 0)
	}
	message := e.Message
	if len(message) > MaxErrorMessage {
		message = message[:MaxErrorMessage]
	}
	b = le.AppendUint32(b, uint32(max(e.Code, 1)))
	b = le.AppendUint32(b, uint32(len(message)))
	return append(b, message...)
}

// ParseLastError reads a LastError in binary form from the start of b (nil
// when there was none) and returns the rest; ok is false when b is too
// short or the message longer than MaxErrorMessage.
func ParseLastError(b []byte) (e *LastError, rest []byte, ok bool) {
	if len(b) < 8 {
		return nil, b, false
	}
	le := binary.LittleEndian
	code, n := le.Uint32(b), le.Uint32(b[4:])
	b = b[8:]
	if n > MaxErrorMessage || uint64(n) > uint64(len(b)) {
		return nil, b, false
	}
	if code == 0 {
		return nil, b[n:], true
	}
	return &LastError{Code: int(min(code, 999)), Message: string(b[:n])}, b[n:], true
}
