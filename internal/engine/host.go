package engine

import (
	"context"
	"errors"
)

// Host answers the host-service calls a function makes. args is a JSON
// array; body the optional binary argument (nil when absent). result is
// marshalled to JSON; resultBody, when not nil, becomes a Uint8Array.
// Errors that are not *HostError reach JavaScript as a generic Error.
type Host interface {
	Call(ctx context.Context, op string, args, body []byte) (result any, resultBody []byte, err error)
}

// HostError is a failure JavaScript sees as an Error (or TypeError) with a
// code property.
type HostError struct {
	Type    string `json:"type"` // "Error" or "TypeError"
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *HostError) Error() string { return e.Code + ": " + e.Message }

// noHost refuses every call: host services not wired.
type noHost struct{}

func (noHost) Call(context.Context, string, []byte, []byte) (any, []byte, error) {
	return nil, nil, &HostError{Type: "Error", Code: "UNAVAILABLE", Message: "host services are not available"}
}

// asHostError returns the HostError JavaScript should see for err.
func asHostError(err error) *HostError {
	var he *HostError
	if errors.As(err, &he) {
		return he
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &HostError{Type: "Error", Code: "TIMEOUT", Message: "the invocation ran out of time"}
	}
	return &HostError{Type: "Error", Code: "INTERNAL", Message: "host service failed"}
}
