package hostsvc

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

type handler func(s *Services, ctx context.Context, a args, body []byte) (any, []byte, error)

type operation struct {
	service string // as JavaScript names it, for messages
	off     func(*Config) bool
	run     handler
}

func kvOff(c *Config) bool   { return c.KV.Disabled }
func objOff(c *Config) bool  { return c.Objects.Disabled }
func msgOff(c *Config) bool  { return c.Messaging.Disabled }
func httpOff(c *Config) bool { return c.HTTP.Disabled }

// operations are the ops the JavaScript side may call, by name.
var operations = map[string]operation{
	"kv.get":          {"kv", kvOff, kvGet},
	"kv.set":          {"kv", kvOff, kvSet},
	"kv.delete":       {"kv", kvOff, kvDelete},
	"kv.keys":         {"kv", kvOff, kvKeys},
	"obj.put":         {"objectStore", objOff, objPut},
	"obj.get":         {"objectStore", objOff, objGet},
	"obj.delete":      {"objectStore", objOff, objDelete},
	"obj.list":        {"objectStore", objOff, objList},
	"msg.publish":     {"messaging", msgOff, msgPublish},
	"msg.request":     {"messaging", msgOff, msgRequest},
	"msg.requestMany": {"messaging", msgOff, msgRequestMany},
	"http.request":    {"http", httpOff, httpRequest},
	OpenKVOp:          {"kv", kvOff, kvOpen},
}

// errPanic marks an INTERNAL error that came from a recovered panic.
var errPanic = errors.New("hostsvc: panic")

// Call runs one host-service operation for the function. args is a JSON
// array; body is the optional binary argument (nil when absent). It returns
// a JSON-marshalable result and an optional binary result (nil when absent).
// ctx carries the invocation's deadline, which bounds every operation.
// Errors are *Error.
func (s *Services) Call(ctx context.Context, op string, args []byte, body []byte) (result any, resultBody []byte, err error) {
	o, ok := operations[op]
	if !ok {
		return nil, nil, typeError(CodeInvalidArgument, "unknown host service operation %s", quoteShort(op))
	}
	if o.off(&s.cfg) {
		return nil, nil, newError(CodeDisabled, nil, "hostServices.%s is disabled on this node", o.service)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, classify(op, err)
	}
	a, e := parseArgs(args)
	if e != nil {
		return nil, nil, e
	}
	// A panic here would take down every isolate of the worker; it becomes
	// an INTERNAL error with the stack in the cause instead.
	defer func() {
		if r := recover(); r != nil {
			result, resultBody = nil, nil
			err = newError(CodeInternal, fmt.Errorf("%w in %s: %v\n%s", errPanic, op, r, debug.Stack()), "%s failed", op)
		}
	}()
	if o.service == "kv" || o.service == "objectStore" {
		var stop func()
		ctx, stop = s.watchRefusals(ctx, s.ownsBucketSubject)
		defer stop()
	}
	result, resultBody, err = o.run(s, ctx, a, body)
	if err != nil {
		if e := refusedError(ctx, op); e != nil {
			return nil, nil, e
		}
		return nil, nil, classify(op, err)
	}
	return result, resultBody, nil
}
