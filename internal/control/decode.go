package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/natsfn/natsfn/api"
)

// decode reads one JSON object into v, refusing unknown fields and trailing
// data, so a typo in a field name is an error rather than a silent default.
// An empty body is allowed only when emptyOK.
func decode(data []byte, v any, emptyOK bool) error {
	if len(bytes.TrimSpace(data)) == 0 {
		if emptyOK {
			return nil
		}
		return api.Errorf(api.CodeBadRequest, "invalid request: the body is empty, want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badJSON(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return api.Errorf(api.CodeBadRequest, "invalid request: data after the JSON object")
	}
	return nil
}

func badJSON(err error) error {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	var (
		syntax   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
		apiError *api.Error
	)
	switch {
	case errors.As(err, &apiError):
		return apiError
	case errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF):
		msg = "malformed JSON: " + msg
	case errors.As(err, &typeErr):
		// The default message names Go types, which mean nothing to a client.
		field := typeErr.Field
		if field == "" {
			field = "the request"
		}
		msg = fmt.Sprintf("%s must be %s, not %s", field, jsonKind(typeErr.Type), typeErr.Value)
	}
	return api.Errorf(api.CodeBadRequest, "invalid request: %s", msg)
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.Kind().String()
}
