package hostsvc

import "strings"

// validHeaderName accepts an HTTP field name (RFC 9110 token), which is also
// what NATS headers use.
func validHeaderName(n string) bool {
	if n == "" || len(n) > 256 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue refuses the bytes that would end or split a header line.
func validHeaderValue(v string) bool {
	return !strings.ContainsAny(v, "\r\n\x00")
}

// checkHeaders validates header names and values given by the function.
func checkHeaders(h map[string][]string, name string) *Error {
	for k, vs := range h {
		if !validHeaderName(k) {
			return typeError(CodeInvalidArgument, "%s: invalid header name %s", name, quoteShort(k))
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return typeError(CodeInvalidArgument, "%s: header %s has a line break or NUL in its value", name, quoteShort(k))
			}
		}
	}
	return nil
}
