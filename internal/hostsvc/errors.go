package hostsvc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Codes of *Error. They are part of the JavaScript contract: functions
// branch on them, so they never change meaning.
const (
	CodeInvalidArgument = "INVALID_ARGUMENT"  // an argument of the wrong type or shape
	CodeKVInvalidKey    = "KV_INVALID_KEY"    // a key outside the NATS KV rules
	CodeObjInvalidName  = "OBJ_INVALID_NAME"  // an object name that is empty, too long or not UTF-8
	CodeSubjectDenied   = "SUBJECT_DENIED"    // a reserved subject, one outside the namespace's, or the function's own trigger
	CodeNoResponders    = "NO_RESPONDERS"     // nobody listens on the request subject
	CodeTimeout         = "TIMEOUT"           // the operation's or the invocation's deadline passed
	CodeCancelled       = "CANCELLED"         // the invocation ended while the operation ran
	CodeEgressDenied    = "EGRESS_DENIED"     // the HTTP destination is refused by the egress policy
	CodeDisabled        = "DISABLED"          // the operator turned the service off
	CodeTooLarge        = "TOO_LARGE"         // a value, payload or response over its limit
	CodeQuotaExceeded   = "QUOTA_EXCEEDED"    // the function's bucket or store is full
	CodeRateLimited     = "RATE_LIMITED"      // the function sends messages faster than the operator allows
	CodeHTTPError       = "HTTP_ERROR"        // the HTTP request failed before a response arrived
	CodeUnavailable     = "UNAVAILABLE"       // NATS or JetStream cannot be reached
	CodePermission      = "PERMISSION_DENIED" // the node's NATS permissions refuse the operation
	CodeInternal        = "INTERNAL"          // anything else; the cause is in the log
)

// Error is a failed host-service operation.
type Error struct {
	Code    string // one of the Code constants
	Message string // short and safe to show the function: no internal addresses, no other tenants
	Type    string // the JavaScript error class: "TypeError" for bad arguments, else "Error"
	Cause   error  // the whole cause, for the operator's log only
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

func newError(code string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Type: "Error", Cause: cause}
}

func typeError(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Type: "TypeError"}
}

// classify turns an error from NATS or the context into an *Error; what
// names the operation for the message, e.g. "kv.get".
func classify(what string, err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return newError(CodeTimeout, err, "%s timed out", what)
	case errors.Is(err, context.Canceled):
		return newError(CodeCancelled, err, "%s was cancelled", what)
	case errors.Is(err, nats.ErrMaxPayload):
		return newError(CodeTooLarge, err, "%s: message is larger than the server allows", what)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrDisconnected):
		return newError(CodeUnavailable, err, "%s: NATS is not reachable", what)
	}
	return newError(CodeInternal, err, "%s failed", what)
}

// classifyJS is classify with JetStream's own failures added; what names the
// operation.
func classifyJS(what string, err error) *Error {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(err, nats.ErrNoResponders):
		return newError(CodeUnavailable, err, "%s: JetStream is not available", what)
	case errors.As(err, &apiErr) && isQuotaError(apiErr):
		return newError(CodeQuotaExceeded, err, "%s: the function's storage is full", what)
	}
	return classify(what, err)
}

// quoteShort quotes s for a message, cut to a readable length.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// JetStream error codes (nats-server's JSStreamStoreFailedF and the
// resource-limit family) that mean the function's storage is full.
const (
	jsStoreFailed              = 10077
	jsStorageResourcesExceeded = 10047
	jsMemoryResourcesExceeded  = 10028
	jsInsufficientResources    = 10023
)

func isQuotaError(e *jetstream.APIError) bool {
	switch e.ErrorCode {
	case jsStorageResourcesExceeded, jsMemoryResourcesExceeded, jsInsufficientResources:
		return true
	case jsStoreFailed:
		return strings.Contains(e.Description, "maximum bytes") || strings.Contains(e.Description, "maximum messages")
	}
	return false
}
