package hostsvc

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// args are the decoded JSON argument array of one call.
type args []json.RawMessage

func parseArgs(raw []byte) (args, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, nil
	}
	var a args
	if raw[0] != '[' || json.Unmarshal(raw, &a) != nil {
		return nil, typeError(CodeInvalidArgument, "arguments must be a JSON array")
	}
	return a, nil
}

func isNull(v json.RawMessage) bool {
	return len(v) == 0 || bytes.Equal(v, []byte("null"))
}

// str returns argument i, which must be a string; name is how the message
// calls it.
func (a args) str(i int, name string) (string, *Error) {
	var s string
	if i >= len(a) || isNull(a[i]) || a[i][0] != '"' || json.Unmarshal(a[i], &s) != nil {
		return "", typeError(CodeInvalidArgument, "%s must be a string", name)
	}
	return s, nil
}

// options returns optional argument i, which must be an object when given.
// Unknown fields are ignored so the JavaScript side may pass more.
func (a args) options(i int, name string) (options, *Error) {
	o := options{name: name}
	if i >= len(a) || isNull(a[i]) {
		return o, nil
	}
	if a[i][0] != '{' || json.Unmarshal(a[i], &o.fields) != nil {
		return o, typeError(CodeInvalidArgument, "%s must be an object", name)
	}
	return o, nil
}

// options are the fields of an options object, read one by one so that each
// error names its field.
type options struct {
	name   string
	fields map[string]json.RawMessage
}

func (o options) get(key string) (json.RawMessage, bool) {
	v, ok := o.fields[key]
	return v, ok && !isNull(v)
}

func (o options) errorf(key, format string, args ...any) *Error {
	e := typeError(CodeInvalidArgument, format, args...)
	e.Message = o.name + "." + key + " " + e.Message
	return e
}

func (o options) number(key string) (float64, bool, *Error) {
	v, ok := o.get(key)
	if !ok {
		return 0, false, nil
	}
	var f float64
	if json.Unmarshal(v, &f) != nil {
		return 0, false, o.errorf(key, "must be a number")
	}
	return f, true, nil
}

// millis reads a duration in milliseconds.
func (o options) millis(key string) (time.Duration, bool, *Error) {
	f, ok, err := o.number(key)
	if !ok || err != nil {
		return 0, ok, err
	}
	if f < 0 {
		return 0, false, o.errorf(key, "must not be negative")
	}
	// Anything past a day is as good as forever: the invocation ends first.
	f = min(f, float64(24*time.Hour/time.Millisecond))
	return time.Duration(f * float64(time.Millisecond)), true, nil
}

// count reads a positive whole number.
func (o options) count(key string) (int, bool, *Error) {
	f, ok, err := o.number(key)
	if !ok || err != nil {
		return 0, ok, err
	}
	if f < 1 || f != math.Trunc(f) {
		return 0, false, o.errorf(key, "must be a positive whole number")
	}
	return int(min(f, math.MaxInt32)), true, nil
}

// headers reads header values given per name as a string or an array of
// strings.
func (o options) headers(key string) (map[string][]string, *Error) {
	v, ok := o.get(key)
	if !ok {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if v[0] != '{' || json.Unmarshal(v, &raw) != nil {
		return nil, o.errorf(key, "must be an object")
	}
	out := make(map[string][]string, len(raw))
	for k, v := range raw {
		var one string
		if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &one) == nil {
			out[k] = []string{one}
			continue
		}
		var many []string
		if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &many) != nil {
			return nil, o.errorf(key+"["+strconv.Quote(k)+"]", "must be a string or an array of strings")
		}
		out[k] = many
	}
	return out, nil
}
