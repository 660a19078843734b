package hostsvc

import (
	"strings"

	"github.com/natsfn/natsfn/api"
)

const maxSubjectLen = 1024

// checkSubject refuses a subject a function may not publish or request on:
// malformed or wildcard subjects (a TypeError), and reserved subjects, those
// outside the namespace's allowed patterns and the function's own triggers
// (SUBJECT_DENIED).
func (s *Services) checkSubject(subj string) *Error {
	if len(subj) > maxSubjectLen {
		return typeError(CodeInvalidArgument, "subject is longer than %d bytes", maxSubjectLen)
	}
	if err := api.ValidateSubject(subj, false); err != nil {
		return typeError(CodeInvalidArgument, "invalid subject %s: publish and request need a subject without wildcards or empty tokens", quoteShort(subj))
	}
	if s.reservedSubject(subj) {
		return newError(CodeSubjectDenied, nil, "subject %s is reserved", quoteShort(subj))
	}
	if len(s.subjects) > 0 && !matchesAny(s.subjects, subj) {
		return newError(CodeSubjectDenied, nil, "subject %s is outside the subjects this namespace may use", quoteShort(subj))
	}
	if matchesAny(s.fn.Triggers, subj) {
		// It would run this function again, which would publish again: a
		// loop that holds a core until the function is removed.
		return newError(CodeSubjectDenied, nil, "a function may not publish to its own trigger (%s)", quoteShort(subj))
	}
	return nil
}

// reservedSubject is api.IsReserved made stricter: every subject whose first
// token starts with '$' belongs to NATS ($SYS, $JS, $KV, $O, $SRV, $MQTT,
// $NRG, ...) or natsfn, and the connection's own inbox prefix (if
// customised) holds other invocations' replies.
func (s *Services) reservedSubject(subj string) bool {
	if reserved(subj) {
		return true
	}
	if p := strings.TrimSuffix(s.nc.Opts.InboxPrefix, "."); p != "" {
		return subj == p || strings.HasPrefix(subj, p+".")
	}
	return false
}

func reserved(subj string) bool {
	return api.IsReserved(subj) || strings.HasPrefix(subj, "$")
}

// MayPublish reports whether a function of a namespace confined to the
// allowed patterns (none: every subject) may publish on subj: the rules of
// messaging.publish, short of a connection's custom inbox prefix.
func MayPublish(subj string, allowed []string) bool {
	if len(subj) > maxSubjectLen || api.ValidateSubject(subj, false) != nil || reserved(subj) {
		return false
	}
	return len(allowed) == 0 || matchesAny(allowed, subj)
}

func matchesAny(patterns []string, subj string) bool {
	for _, p := range patterns {
		if subjectMatches(p, subj) {
			return true
		}
	}
	return false
}

// subjectMatches reports whether the literal subject subj matches pattern,
// with NATS wildcards: '*' one token, '>' one or more trailing tokens.
func subjectMatches(pattern, subj string) bool {
	for {
		pt, prest, pmore := strings.Cut(pattern, ".")
		st, srest, smore := strings.Cut(subj, ".")
		switch {
		case pt == ">":
			return true
		case pt != "*" && pt != st:
			return false
		case !pmore || !smore:
			return pmore == smore
		}
		pattern, subj = prest, srest
	}
}
