package engine

import (
	"encoding/binary"
	"errors"

	v8 "github.com/tommie/v8go"
)

// The web extensions' own SharedArrayBuffer for binary data (TextDecoder's
// legacy encodings, crypto.subtle), kept apart from the prelude's exchange
// so neither has to know the other's layout. It is created in JS
// (web/14_encoding.js) and adopted here; it never leaves natsfn's JS.
// Layout: four int32 slots in bytes 0..15, data from scratchHeader on.
const scratchHeader = 16

type scratch struct {
	buf     []byte
	release func()
}

func (s *scratch) free() {
	if s.release != nil {
		s.release()
	}
	s.buf, s.release = nil, nil
}

// data is the scratch's data area.
func (s *scratch) data() []byte { return s.buf[scratchHeader:] }

func (s *scratch) setSlot(k, v int) {
	binary.LittleEndian.PutUint32(s.buf[4*k:], uint32(int32(v)))
}

// in returns n data bytes from offset off, checked against the buffer.
func (s *scratch) in(off, n int) ([]byte, error) {
	d := s.data()
	if off < 0 || n < 0 || off+n > len(d) {
		return nil, errors.New("scratch: out of range")
	}
	return d[off : off+n], nil
}

func init() {
	registerNative("scratch", func(i *Isolate, info *v8.FunctionCallbackInfo) (*v8.Value, error) {
		args := info.Args()
		if len(args) != 1 {
			return nil, errors.New("scratch: want one argument")
		}
		buf, release, err := args[0].SharedArrayBufferGetContents()
		if err != nil {
			return nil, err
		}
		if len(buf) < scratchHeader+256 {
			release()
			return nil, errors.New("scratch: too small")
		}
		i.web.free()
		i.web = scratch{buf: buf, release: release}
		return nil, nil
	})
}

// intArg reads argument k as an int, 0 when absent.
func intArg(args []*v8.Value, k int) int {
	if k >= len(args) {
		return 0
	}
	return int(args[k].Integer())
}

func strArg(args []*v8.Value, k int) string {
	if k >= len(args) || !args[k].IsString() {
		return ""
	}
	return args[k].String()
}
