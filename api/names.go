package api

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNameLen is the longest function name or namespace.
const MaxNameLen = 64

// DefaultNamespace is used when the caller names none.
const DefaultNamespace = "default"

// ValidateName checks a function name or namespace: 1 to 64 of a-z, 0-9, '-'
// and '_'. what names the thing checked, for the error message.
func ValidateName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s must not be empty", what)
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("%s %q is longer than %d characters", what, s, MaxNameLen)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%s %q may only contain a-z, 0-9, '-' and '_'", what, s)
		}
	}
	return nil
}

// ReservedPrefixes are subject prefixes that belong to NATS or natsfn. A
// function may neither be triggered on them nor publish to them. "_R_."
// carries the server's replies to imported services.
var ReservedPrefixes = []string{"$SYS.", "$JS.", "$KV.", "$O.", "$NATSFN.", "_INBOX.", "_R_."}

// ValidateSubject checks that s is a well-formed NATS subject, wildcards
// allowed when wildcards is true.
func ValidateSubject(s string, wildcards bool) error {
	if s == "" {
		return errors.New("subject must not be empty")
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("subject %q is not valid UTF-8", s)
	}
	// Control characters would reach terminals through ls, info and logs,
	// and NUL and CR/LF confuse other NATS clients.
	for _, r := range s {
		if r == ' ' || IsControl(r) {
			return fmt.Errorf("subject %q must not contain white space or control characters", s)
		}
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return fmt.Errorf("subject %q has an empty token", s)
		case t == "*" || t == ">":
			if !wildcards {
				return fmt.Errorf("subject %q must not contain wildcards", s)
			}
			if t == ">" && i != len(tokens)-1 {
				return fmt.Errorf("subject %q: '>' may only be the last token", s)
			}
		case strings.ContainsAny(t, "*>"):
			return fmt.Errorf("subject %q: wildcards must be whole tokens", s)
		}
	}
	return nil
}

// IsControl reports whether r is a C0 or C1 control character or DEL.
func IsControl(r rune) bool {
	return r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f
}

// ValidateTrigger checks a trigger subject: a valid subject whose first token
// is a literal that starts no reserved prefix. A leading wildcard would also
// catch reserved traffic (a trigger on '>' would see the control API), so
// it is refused too.
func ValidateTrigger(s string) error {
	if err := ValidateSubject(s, true); err != nil {
		return err
	}
	first, _, _ := strings.Cut(s, ".")
	if first == "*" || first == ">" {
		return fmt.Errorf("trigger %q must start with a literal token, not a wildcard", s)
	}
	// Every '$' subject belongs to NATS itself ($SYS, $JS, $SRV, ...).
	if IsReserved(s) || strings.HasPrefix(s, "$") {
		return fmt.Errorf("trigger %q is on a reserved subject", s)
	}
	return nil
}

// IsReserved reports whether subject s lies under a reserved prefix.
func IsReserved(s string) bool {
	for _, p := range ReservedPrefixes {
		if strings.HasPrefix(s, p) || s == strings.TrimSuffix(p, ".") {
			return true
		}
	}
	return false
}
