package worker

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/natsfn/natsfn/internal/engine"
)

// The node and a worker speak in frames over a socketpair:
//
//	u32 size of the rest | u8 type | u64 id | u16 field count | (u32 len, bytes)*
//
// id is a request, job, call or function id depending on the type. Every
// request (check, load, unload) has an id of its own, so that the answers
// to a load and an unload of the same function cannot be mistaken for each
// other. Fields are raw bytes; their meaning is fixed per type (see the
// constants).
const (
	// node → worker
	frameCheck      = 1 // id: request; fields: spec JSON, script
	frameLoad       = 2 // id: request; fields: function id, info JSON, script
	frameUnload     = 3 // id: request; fields: function id
	frameInvoke     = 4 // id: job; fields: function id, subject, reply, headers JSON, payload[, meta JSON of a consumer delivery]
	frameHostResult = 5 // id: call; fields: status ("0" ok, "1" error), result JSON, body, has body ("1")
	frameAttach     = 6 // id: 0; fields: connection name, user JWT, user seed (both empty on natsfn's own server). Use the inherited NATS socket and in-flight table
	frameLimits     = 7 // id: 0; fields: host calls, host bytes (u64 each): what the node admits in flight at once

	// worker → node
	frameCheckResult = 11 // id: request; fields: error ("" when fine)
	frameLoadResult  = 12 // id: request; fields: error
	frameUnloaded    = 13 // id: request
	frameResult      = 14 // id: job; fields: code ("" on success), message, detail, body[, disposition, term reason]
	frameHost        = 15 // id: call; fields: function id, op, args, body, has body ("1"), deadline (unix ns)
	frameLog         = 16 // id: function; fields: level, line
	frameReady       = 17 // id: 0; sent once the worker has entered its sandbox
	frameAttached    = 18 // id: 0; fields: error ("" when connected)
	frameStats       = 19 // id: 0; fields: records of (u64 function id, u64 isolates alive, stats.Counts counted since the last record, stats.LastError kept since then): what the worker answered on its own NATS connection
)

// maxFrame bounds a frame: a 10 MiB bundle or a payload up to NATS's 64 MiB
// ceiling, with room for the rest.
const maxFrame = 80 << 20

type frame struct {
	typ    byte
	id     uint64
	fields [][]byte
	size   int // of the frame after its length prefix, as frameSize counts
}

// frameSize is the size of a frame with fields after its length prefix.
func frameSize(fields ...[]byte) int {
	size := 11
	for _, f := range fields {
		size += 4 + len(f)
	}
	return size
}

func (f *frame) field(i int) []byte {
	if i < len(f.fields) {
		return f.fields[i]
	}
	return nil
}

func (f *frame) str(i int) string { return string(f.field(i)) }

func (f *frame) u64(i int) uint64 {
	b := f.field(i)
	if len(b) != 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func u64Field(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func newFrameReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }

// readFrame reads one frame. The fields alias a fresh buffer per frame.
func readFrame(r *bufio.Reader) (*frame, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint32(head[:])
	if size < 11 || size > maxFrame {
		return nil, fmt.Errorf("worker: bad frame size %d", size)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	f := &frame{typ: buf[0], id: binary.LittleEndian.Uint64(buf[1:9]), size: int(size)}
	n := int(binary.LittleEndian.Uint16(buf[9:11]))
	rest := buf[11:]
	f.fields = make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		if len(rest) < 4 {
			return nil, errors.New("worker: truncated frame")
		}
		l := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(l) > uint64(len(rest)) {
			return nil, errors.New("worker: truncated frame field")
		}
		f.fields = append(f.fields, rest[:l:l])
		rest = rest[l:]
	}
	return f, nil
}

// writer sends frames with flat combining: a sender appends its frame to a
// shared buffer and, unless another sender is already writing, writes the
// buffer itself until it is empty. An idle connection costs no goroutine
// hand-off; a busy one sends many frames per syscall. A large frame is
// written from its fields, without a copy in the buffer.
type writer struct {
	w        io.Writer
	mu       sync.Mutex
	idle     *sync.Cond // signalled when flushing ends
	buf      []byte
	spare    []byte
	flushing bool
	err      error
	closed   bool
}

func newWriter(w io.Writer) *writer {
	wr := &writer{w: w}
	wr.idle = sync.NewCond(&wr.mu)
	return wr
}

// send writes one frame, or leaves it to the sender writing now.
func (w *writer) send(typ byte, id uint64, fields ...[]byte) error {
	if frameSize(fields...) >= eagerFlush {
		return w.sendLarge(typ, id, fields)
	}
	if err := w.queue(typ, id, fields...); err != nil {
		return err
	}
	return w.flush()
}

// sendLarge writes a frame as the only writer: what was queued first, then
// the frame straight from its fields. Copying tens of MiB into the buffer
// would double what a large host call or result costs in memory.
func (w *writer) sendLarge(typ byte, id uint64, fields [][]byte) error {
	size := frameSize(fields...)
	if size > maxFrame {
		return fmt.Errorf("worker: frame of %d bytes is too large", size)
	}
	w.mu.Lock()
	for w.flushing && w.err == nil && !w.closed {
		w.idle.Wait()
	}
	if w.err != nil || w.closed {
		defer w.mu.Unlock()
		if w.err != nil {
			return w.err
		}
		return io.ErrClosedPipe
	}
	w.flushing = true
	head := w.buf
	w.buf = w.spare[:0]
	w.spare = nil
	w.mu.Unlock()

	head = binary.LittleEndian.AppendUint32(head, uint32(size))
	head = append(head, typ)
	head = binary.LittleEndian.AppendUint64(head, id)
	head = binary.LittleEndian.AppendUint16(head, uint16(len(fields)))
	out := net.Buffers{head}
	for _, f := range fields {
		out = append(out, binary.LittleEndian.AppendUint32(nil, uint32(len(f))), f)
	}
	_, err := out.WriteTo(w.w)

	w.mu.Lock()
	if err != nil && w.err == nil {
		w.err = err
	}
	w.flushing = false
	w.idle.Broadcast()
	w.mu.Unlock()
	if err != nil {
		return err
	}
	return w.flush() // what others queued meanwhile
}

// queue appends a frame to the buffer without writing it; flush writes.
// It fails only once the connection has failed or the writer is closed.
func (w *writer) queue(typ byte, id uint64, fields ...[]byte) error {
	size := frameSize(fields...)
	if size > maxFrame {
		return fmt.Errorf("worker: frame of %d bytes is too large", size)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.closed {
		if w.err != nil {
			return w.err
		}
		return io.ErrClosedPipe
	}
	b := w.buf
	b = binary.LittleEndian.AppendUint32(b, uint32(size))
	b = append(b, typ)
	b = binary.LittleEndian.AppendUint64(b, id)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(fields)))
	for _, f := range fields {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	w.buf = b
	if len(b) < eagerFlush {
		return nil
	}
	w.mu.Unlock()
	err := w.flush()
	w.mu.Lock()
	return err
}

// eagerFlush is how much queue gathers before it writes anyway: batching
// saves syscalls for small frames, while big ones would only be copied
// into an ever larger buffer.
const eagerFlush = 256 << 10

// flush writes the buffer until it is empty, unless another sender is
// writing already (it will write what is queued).
func (w *writer) flush() error {
	w.mu.Lock()
	if w.flushing {
		w.mu.Unlock()
		return nil
	}
	w.flushing = true
	for len(w.buf) > 0 && w.err == nil {
		out := w.buf
		w.buf = w.spare[:0]
		w.mu.Unlock()
		_, err := w.w.Write(out)
		w.mu.Lock()
		if err != nil {
			w.err = err
		}
		// Keep the buffer for reuse, but not a huge one.
		if cap(out) <= 1<<20 {
			w.spare = out[:0]
		} else {
			w.spare = nil
		}
	}
	w.flushing = false
	w.idle.Broadcast()
	err := w.err
	w.mu.Unlock()
	return err
}

// close refuses further frames; what was sent is already written.
func (w *writer) close() {
	w.mu.Lock()
	w.closed = true
	w.idle.Broadcast()
	w.mu.Unlock()
}

// dispositionFields encodes a consumer delivery's disposition for a
// frameResult: the kind and the nak's delay in milliseconds, then the
// term's reason.
func dispositionFields(d engine.Disposition) [][]byte {
	head := binary.LittleEndian.AppendUint64([]byte{byte(d.Kind)}, uint64(d.Delay.Milliseconds()))
	return [][]byte{head, []byte(d.Reason)}
}

// parseDisposition reads what dispositionFields wrote. The worker's frames
// are its tenant's to forge: an unknown kind is none, the delay is capped.
func parseDisposition(head, reason []byte) engine.Disposition {
	if len(head) != 9 || engine.DispositionKind(head[0]) > engine.DispositionTerm {
		return engine.Disposition{}
	}
	ms := min(binary.LittleEndian.Uint64(head[1:]), uint64(maxNakDelay/time.Millisecond))
	return engine.Disposition{Kind: engine.DispositionKind(head[0]), Delay: time.Duration(ms) * time.Millisecond, Reason: string(reason[:min(len(reason), 1024)])}
}

// maxNakDelay bounds the delay a worker may ask a nak for.
const maxNakDelay = 24 * time.Hour
