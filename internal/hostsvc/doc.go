// Package hostsvc is the Go side of the host services a function reaches as
// hostServices.* in JavaScript: its own KV bucket and object store, NATS
// messaging and an HTTP client behind an egress policy.
//
// A Services value serves one function. The JavaScript engine calls
// Services.Call with an operation name, a JSON array of arguments and an
// optional binary argument; every failure is an *Error whose Code and
// Message the function may see and whose Cause belongs in the operator's log.
package hostsvc
