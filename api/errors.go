package api

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes follow HTTP, as the NATS services convention does.
const (
	CodeBadRequest  = 400
	CodeForbidden   = 403
	CodeNotFound    = 404
	CodeTimeout     = 408
	CodeConflict    = 409
	CodeTooLarge    = 413
	CodeTooMany     = 429
	CodeInternal    = 500
	CodeUnavailable = 503
)

// Headers of an error reply, as in the NATS services convention.
const (
	HeaderError     = "Nats-Service-Error"
	HeaderErrorCode = "Nats-Service-Error-Code"
	// HeaderTimeout carries, on a control request, how long the client
	// waits for the reply (a Go duration such as "10s"): the node gives up
	// a little before, so the client hears why instead of a bare timeout.
	HeaderTimeout = "Natsfn-Timeout"
)

// FunctionFailed is the message of a function that threw or failed. A
// thrown exception's own name and message may follow it (ThrownMessage),
// unless the operator hides them.
const FunctionFailed = "function failed"

// ThrownMessage is the message a caller sees of an exception.
func ThrownMessage(exception string) string { return FunctionFailed + ": " + exception }

// ExceptionOf is the exception's part of a ThrownMessage.
func ExceptionOf(message string) (exception string, ok bool) {
	return strings.CutPrefix(message, FunctionFailed+": ")
}

// Error is what a caller sees of a failure: a code and a short message that
// is safe to show. The whole cause belongs in the operator's log.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d)", e.Message, e.Code) }

// Errorf returns an *Error with the given code.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or 500.
func CodeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
