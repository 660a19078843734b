package worker

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/natsfn/natsfn/api"
)

// checkGrace is how much longer than the function's timeout a check's
// process may live: the engine stops a top level that runs too long
// itself, with a clearer message; killing the process is the backstop for
// one that the engine cannot stop.
const checkGrace = 5 * time.Second

// Check runs the bundle's top level in a process of its own, started for
// this check and killed when it ends: untrusted code that allocates
// without bound, crashes V8 or never returns must not take the namespace's
// running functions with it, nor outlive the request that asked.
func (b *Backend) Check(ctx context.Context, spec api.FunctionSpec, script []byte) error {
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	// A namespace that would need a worker this node cannot start fails
	// now, rather than after it is stored as deployed.
	b.mu.Lock()
	noRoom := b.workers[spec.Namespace] == nil && !b.roomForWorker()
	var errRoom error
	if noRoom {
		errRoom = b.errNoRoom("another namespace's worker")
	}
	b.mu.Unlock()
	if errRoom != nil {
		return errRoom
	}
	done, err := b.checkTurn(ctx, spec.Namespace)
	if err != nil {
		return err
	}
	defer done()
	limit := min(spec.EffectiveTimeout()+checkGrace, b.cfg.CheckTimeout)
	checkCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err = b.runCheck(checkCtx, spec.Namespace, specJSON, script)
	if err != nil && ctx.Err() == nil && checkCtx.Err() != nil {
		return api.Errorf(api.CodeBadRequest, "the script's top-level code did not finish within %s", limit)
	}
	return err
}

// checkSlots are a namespace's checks running now.
type checkSlots struct {
	running int
	changed chan struct{} // closed when one ends
}

// checkTurn waits until the namespace may start another check and the
// node has the memory for it. A namespace's checks wait for each other,
// never for another namespace's; the node's memory is refused at once.
func (b *Backend) checkTurn(ctx context.Context, namespace string) (done func(), err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.closed {
			return nil, errors.New("natsfn: worker backend closed")
		}
		slots := b.checks[namespace]
		if slots == nil {
			slots = &checkSlots{changed: make(chan struct{})}
			b.checks[namespace] = slots
		}
		if slots.running < b.cfg.ChecksPerNamespace {
			if b.cfg.MemoryBudget > 0 && b.memory+b.cfg.CheckMemory > b.cfg.MemoryBudget {
				return nil, b.errNoRoom("checking another bundle")
			}
			slots.running++
			b.memory += b.cfg.CheckMemory
			return func() {
				b.mu.Lock()
				defer b.mu.Unlock()
				b.memory -= b.cfg.CheckMemory
				slots.running--
				close(slots.changed)
				slots.changed = make(chan struct{})
				if slots.running == 0 {
					delete(b.checks, namespace)
				}
			}, nil
		}
		changed := slots.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			b.mu.Lock()
			return nil, ctx.Err()
		}
		b.mu.Lock()
	}
}

// runCheck starts a check process, has it check the bundle and kills it.
// It returns once the process is gone.
func (b *Backend) runCheck(ctx context.Context, namespace string, specJSON, script []byte) error {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	parentFile := os.NewFile(uintptr(fds[0]), "check-"+namespace)
	childFile := os.NewFile(uintptr(fds[1]), "node")
	conn, err := net.FileConn(parentFile)
	parentFile.Close()
	if err != nil {
		childFile.Close()
		return err
	}
	proc, err := b.cfg.SpawnCheck(namespace, []*os.File{childFile})
	childFile.Close()
	if err != nil {
		conn.Close()
		return api.Errorf(api.CodeUnavailable, "cannot check the bundle: %v", err)
	}
	b.procs.Add(1)
	b.mu.Lock()
	b.probes[proc] = true
	if b.closed {
		proc.Kill()
	}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.probes, proc)
		b.mu.Unlock()
	}()
	exited := make(chan Exit, 1)
	go func() {
		e := proc.Wait()
		b.procs.Add(-1)
		conn.Close() // ends the reader below
		exited <- e
	}()
	answer := make(chan *frame, 1)
	go func() {
		r := newFrameReader(conn)
		f, err := readFrame(r)
		if err == nil && f.typ == frameReady {
			if err = newWriter(conn).send(frameCheck, 1, specJSON, script); err == nil {
				f, err = readFrame(r)
			}
		}
		if err != nil || f.typ != frameCheckResult {
			f = nil
		}
		answer <- f
	}()
	var res *frame
	var exit Exit
	select {
	case res = <-answer:
		proc.Kill()
		exit = <-exited
	case exit = <-exited:
		res = <-answer
	case <-ctx.Done():
		proc.Kill()
		exit = <-exited
		<-answer
		return ctx.Err()
	}
	switch {
	case res != nil && res.str(0) == "":
		return nil
	case res != nil:
		return api.Errorf(api.CodeBadRequest, "%s", res.str(0))
	case exit.OutOfMemory:
		return api.Errorf(api.CodeTooLarge, "the script's top-level code needs more than the %d MiB of memory a deploy check may use", b.cfg.CheckMemory>>20)
	default:
		return api.Errorf(api.CodeBadRequest, "the script's top-level code ended the check's process: %s", exit.How)
	}
}
