package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	v8 "github.com/tommie/v8go"

	"github.com/natsfn/natsfn/api"
)

// Invocation is one message for the function.
type Invocation struct {
	Subject string
	Reply   string
	Headers map[string][]string
	// HeadersJSON is Headers already encoded as JSON, as a worker receives
	// them from the node; when set it is used and Headers is not.
	HeadersJSON []byte
	Payload     []byte
	// Meta, set for a consumer delivery (a stream, schedule or watch
	// trigger), is a JSON object whose fields the function finds on msg,
	// with msg.ack(), msg.nak(), msg.term() and msg.inProgress(); the
	// Result then carries the function's Disposition.
	Meta []byte
}

// Result is the outcome of an invocation. On success Err is nil and Body is
// the reply (nil for an empty one). Body aliases the isolate's memory and is
// valid only until the next call on the isolate: send or copy it first.
type Result struct {
	Body []byte
	// Err is what the caller may see; Detail is the whole story (a stack
	// trace, say) for the function's log.
	Err    *api.Error
	Detail string
	// Disposition is what the function decided for a consumer delivery.
	Disposition Disposition
}

// Disposition is how a function asked a consumer delivery to be finished
// (msg.ack, msg.nak, msg.term); the zero value leaves it to the outcome.
type Disposition struct {
	Kind DispositionKind
	// Delay is a nak's redelivery delay.
	Delay time.Duration
	// Reason is a term's reason, for the log.
	Reason string
}

// DispositionKind is a function's decision on a consumer delivery.
type DispositionKind uint8

const (
	DispositionNone DispositionKind = iota
	DispositionAck
	DispositionNak
	DispositionTerm
)

// Exchange status codes written by the prelude into slot 0.
const (
	statusBytes   = 0
	statusEmpty   = 1
	statusPending = 2
	statusThrown  = 3
)

// Invoke runs the function on inv. ctx's deadline is the wall-time limit;
// without one the call is not bounded.
func (i *Isolate) Invoke(ctx context.Context, inv *Invocation) (res Result) {
	if i.broken {
		return Result{Err: api.Errorf(api.CodeUnavailable, "function unavailable"), Detail: "isolate is broken"}
	}
	// A panic here (a bug, or a caller's context misbehaving) ends this
	// isolate, not the process: on the node without a sandbox the process
	// is the node and its embedded NATS server.
	defer func() {
		if r := recover(); r != nil {
			i.endLoop()
			i.callCtx = nil
			i.watchdog.disarm()
			i.fault(r)
			res = i.faultResult()
		}
	}()
	headers := inv.HeadersJSON
	if headers == nil && len(inv.Headers) > 0 {
		headers, _ = json.Marshal(inv.Headers)
	}
	need := len(inv.Subject) + len(inv.Reply) + len(headers) + len(inv.Payload) + len(inv.Meta)
	if err := i.ensure(need); err != nil {
		return i.failed(err, false)
	}
	i.setSlot(0, len(inv.Subject))
	i.setSlot(1, len(inv.Reply))
	i.setSlot(2, len(headers))
	i.setSlot(3, len(inv.Payload))
	i.setSlot(4, len(inv.Meta))
	o := headerBytes
	o += copy(i.exchange[o:], inv.Subject)
	o += copy(i.exchange[o:], inv.Reply)
	o += copy(i.exchange[o:], headers)
	o += copy(i.exchange[o:], inv.Payload)
	copy(i.exchange[o:], inv.Meta)

	if deadline, ok := ctx.Deadline(); ok {
		i.watchdog.arm(deadline)
	}
	i.callCtx = ctx
	i.beginLoop()
	res = i.run(ctx)
	i.endLoop()
	i.callCtx = nil
	if i.watchdog.disarm() {
		i.flushTermination()
		if res.Err == nil || res.Err.Code != api.CodeTimeout {
			res = Result{Err: api.Errorf(api.CodeTimeout, "function timed out"), Detail: "terminated at the invocation deadline"}
		}
	}
	if i.faulted != "" {
		return i.faultResult()
	}
	if len(inv.Meta) > 0 {
		res.Disposition = i.disposition(res)
	}
	return res
}

// disposition reads what the prelude wrote of a consumer delivery's
// decision after the reply (writeDisposition); like every value there it
// is checked before use. A timed-out call decided nothing it can stand by.
func (i *Isolate) disposition(res Result) Disposition {
	if res.Err != nil && res.Err.Code == api.CodeTimeout {
		return Disposition{}
	}
	kind := DispositionKind(i.slot(4))
	if kind > DispositionTerm || i.slot(0) > statusThrown {
		return Disposition{}
	}
	d := Disposition{Kind: kind}
	switch kind {
	case DispositionNak:
		d.Delay = time.Duration(max(i.slot(5), 0)) * time.Millisecond
	case DispositionTerm:
		off := headerBytes + i.slot(1)
		if i.slot(0) == statusThrown {
			off += i.slot(2) // the exception's message comes first
		}
		if reason, ok := i.data(off, i.slot(6)); ok {
			d.Reason = string(reason)
		}
	}
	return d
}

// run calls the prelude's invoke and, for a promise, awaits it.
func (i *Isolate) run(ctx context.Context) Result {
	v, err := i.invoke.Call(v8.Undefined(i.iso))
	if v != nil {
		v.Release()
	}
	if err != nil {
		return i.failed(err, true)
	}
	if i.slot(0) == statusPending {
		return i.await(ctx)
	}
	return i.reply()
}

// await runs the event loop until the returned promise settles, nothing is
// left that could settle it, or ctx ends.
func (i *Isolate) await(ctx context.Context) Result {
	for {
		i.ctx.PerformMicrotaskCheckpoint()
		v, err := i.settle.Call(v8.Undefined(i.iso))
		if v != nil {
			v.Release()
		}
		if err != nil {
			return i.failed(err, true)
		}
		if i.slot(0) != statusPending {
			return i.reply()
		}
		more, err := i.step(ctx)
		var ce *callError
		switch {
		case errors.As(err, &ce):
			return i.failed(ce.err, true)
		case errors.Is(err, context.DeadlineExceeded):
			return Result{Err: api.Errorf(api.CodeTimeout, "function timed out"), Detail: "still waiting at the invocation deadline"}
		case err != nil:
			return Result{Err: api.Errorf(api.CodeUnavailable, "function call cancelled"), Detail: "the invocation was cancelled while its promise was pending"}
		case !more:
			return i.reply()
		}
	}
}

// reply reads the outcome the prelude wrote into the exchange. The
// exchange is memory JavaScript writes: every value is checked before Go
// slices with it.
func (i *Isolate) reply() Result {
	switch status, n := i.slot(0), i.slot(1); status {
	case statusBytes:
		body, ok := i.data(headerBytes, n)
		if !ok {
			return malformed(fmt.Sprintf("reply length %d does not fit the exchange", n))
		}
		return Result{Body: body}
	case statusEmpty:
		return Result{}
	case statusThrown:
		text, ok := i.data(headerBytes, n)
		message, ok2 := i.data(headerBytes+n, i.slot(2))
		if !ok || !ok2 {
			return malformed(fmt.Sprintf("error lengths %d and %d do not fit the exchange", n, i.slot(2)))
		}
		return Result{Err: i.thrown(string(message)), Detail: i.prog.userText(string(text))}
	case statusPending:
		return Result{Err: api.Errorf(api.CodeInternal, "function failed"), Detail: "the returned promise never settled, and no timer or host call was left that could settle it"}
	default:
		return malformed(fmt.Sprintf("bad exchange status %d", status))
	}
}

// thrown is the error the caller sees of an exception: its message, unless
// the operator hides it (Options.HideExceptions). The message is the
// function's own text: it is kept to one line, as a header value must be.
func (i *Isolate) thrown(message string) *api.Error {
	if i.opts.HideExceptions || message == "" {
		return &api.Error{Code: api.CodeInternal, Message: api.FunctionFailed}
	}
	return &api.Error{Code: api.CodeInternal, Message: api.ThrownMessage(oneLine(message))}
}

// oneLine replaces line breaks and other control characters with spaces and
// drops what is not valid UTF-8.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError:
			return -1
		case r < 0x20 || r == 0x7f:
			return ' '
		}
		return r
	}, s)
}

func malformed(detail string) Result {
	return Result{Err: api.Errorf(api.CodeInternal, "function returned a malformed reply"), Detail: detail}
}

// data returns exchange[off:off+n], or false when that is not inside the
// exchange.
func (i *Isolate) data(off, n int) ([]byte, bool) {
	if off < 0 || n < 0 || off > len(i.exchange) || n > len(i.exchange)-off {
		return nil, false
	}
	return i.exchange[off : off+n], true
}

// failed classifies an error from calling into V8. A termination the
// watchdog did not cause is the heap limit: the isolate is broken.
func (i *Isolate) failed(err error, fromJS bool) Result {
	if fromJS && strings.Contains(err.Error(), "ExecutionTerminated") {
		if i.watchdog.firedNow() {
			return Result{Err: api.Errorf(api.CodeTimeout, "function timed out"), Detail: "terminated at the invocation deadline"}
		}
		i.broken = true
		return Result{Err: api.Errorf(api.CodeInternal, "function exceeded its memory limit"), Detail: "terminated at the heap limit; the isolate is replaced"}
	}
	return Result{Err: api.Errorf(api.CodeInternal, "function failed"), Detail: i.prog.scriptError(err).Error()}
}

// flushTermination clears a TerminateExecution that landed after the
// JavaScript had already returned, so that it cannot hit the next call.
func (i *Isolate) flushTermination() {
	if v, err := i.ctx.RunScript("undefined", "natsfn:flush"); err == nil {
		v.Release()
	}
}

// nativeHost answers a host-service call, blocking until the host has.
// The prelude wrote the op, JSON args and optional body into the exchange
// (readCall); the answer goes back the same way (writeAnswer).
func (i *Isolate) nativeHost(*v8.FunctionCallbackInfo) (*v8.Value, error) {
	op, args, body, err := i.readCall()
	if err != nil {
		return nil, err
	}
	ctx := i.callCtx
	if ctx == nil {
		ctx = context.Background()
	}
	result, resultBody, err := i.callHost(ctx, op, args, body)
	return nil, i.writeAnswer(result, resultBody, err)
}

// readCall copies out a host call the prelude wrote: slots 0..2 are the
// lengths of op, args JSON and body (-1 for none), stored in that order.
func (i *Isolate) readCall() (op string, args, body []byte, err error) {
	opLen, argsLen, bodyLen := i.slot(0), i.slot(1), i.slot(2)
	opBytes, ok1 := i.data(headerBytes, opLen)
	argBytes, ok2 := i.data(headerBytes+opLen, argsLen)
	ok3 := bodyLen == -1
	if !ok3 {
		body, ok3 = i.data(headerBytes+opLen+argsLen, bodyLen)
		body = append([]byte(nil), body...)
	}
	if !ok1 || !ok2 || !ok3 {
		return "", nil, nil, errors.New("host: bad exchange lengths")
	}
	return string(opBytes), append([]byte(nil), argBytes...), body, nil
}

// writeAnswer stores a host call's answer in the exchange: slot 0 status
// (0 ok, 1 error), slot 1 result JSON length, slot 2 body length or -1.
func (i *Isolate) writeAnswer(result any, resultBody []byte, err error) error {
	var resultJSON []byte
	status := 0
	if err != nil {
		status = 1
		resultJSON, _ = json.Marshal(asHostError(err))
		resultBody = nil
	} else if result != nil {
		if resultJSON, err = json.Marshal(result); err != nil {
			status = 1
			resultJSON, _ = json.Marshal(&HostError{Type: "Error", Code: "INTERNAL", Message: "host service returned an unencodable result"})
			resultBody = nil
		}
	}
	if err := i.ensure(len(resultJSON) + len(resultBody)); err != nil {
		return err
	}
	i.setSlot(0, status)
	i.setSlot(1, len(resultJSON))
	if resultBody == nil {
		i.setSlot(2, -1)
	} else {
		i.setSlot(2, len(resultBody))
	}
	o := headerBytes
	o += copy(i.exchange[o:], resultJSON)
	copy(i.exchange[o:], resultBody)
	return nil
}

// callHost calls the Host, turning a panic into an error: nothing a function
// passes may take the process down.
func (i *Isolate) callHost(ctx context.Context, op string, args, body []byte) (result any, resultBody []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("host service %s panicked: %v", op, r)
		}
	}()
	if ctx.Err() != nil {
		return nil, nil, &HostError{Type: "Error", Code: "TIMEOUT", Message: "the invocation ran out of time"}
	}
	return i.opts.Host.Call(ctx, op, args, body)
}
