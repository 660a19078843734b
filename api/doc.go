// Package api holds the types natsfn shows its users: function specs, the
// control protocol spoken over NATS, the names and subjects natsfn accepts,
// and the error codes every reply carries. It has no dependencies on the rest
// of natsfn, so clients can import it alone.
package api
