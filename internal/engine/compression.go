package engine

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	v8 "github.com/tommie/v8go"

	"github.com/natsfn/natsfn/api"
)

// CompressionStream and DecompressionStream (web/25_compression.js) with
// the work done by Go's compress packages. Each stream that has seen its
// first chunk holds Go state here, by handle. Like timers and host calls,
// the state does not outlive the invocation that made it (endLoop frees
// it), and it is bounded: a function cannot hold more than
// maxZStreams of them, and what they inflate is capped, against a
// decompression bomb, since the bytes land in ArrayBuffers outside V8's
// heap limit.

const (
	// maxZStreams bounds the streams an isolate holds at once: a
	// compressor's tables take about 1 MB of Go memory.
	maxZStreams = 16
	// zStep bounds the output one call hands JavaScript; more is pulled in
	// further calls, so the scratch need not hold a whole bomb's output.
	zStep = 1 << 20
)

// Stream formats, as 25_compression.js numbers them.
const (
	zGzip = iota
	zDeflate
	zDeflateRaw
)

// zState is an isolate's compression streams.
type zState struct {
	last    int32
	streams map[int32]*zstream
	// inflated counts the bytes the decompression streams of this
	// invocation produced, against the cap.
	inflated int64
}

// zstream is one stream. A compressor writes into buf; a decompressor
// runs in an inflater. pending is output not yet handed to JavaScript.
type zstream struct {
	pending []byte
	buf     bytes.Buffer
	w       io.WriteCloser
	inf     *inflater
}

// free releases every stream; a later call on one of them finds no
// handle.
func (z *zState) free() {
	for id, s := range z.streams {
		s.close()
		delete(z.streams, id)
	}
	z.inflated = 0
}

func (s *zstream) close() {
	if s.inf != nil {
		s.inf.stop()
	}
}

// inflateCap is how many bytes the decompression streams of one
// invocation may produce together: the heap limit, as if the output had
// to fit the heap.
func (i *Isolate) inflateCap() int64 {
	if i.opts.HeapBytes > 0 {
		return i.opts.HeapBytes
	}
	return api.DefaultHeapBytes
}

// An inflater runs a Go decompressor, which pulls its input, in a
// goroutine of its own that the isolate's goroutine drives in lockstep:
// one of them runs at a time. The decompressor asks for input (evNeed)
// and hands out output (evData), each time waiting for the driver's
// answer on resume.
type inflater struct {
	events chan zevent
	resume chan []byte
	quit   chan struct{}
	// Read by the decompressor; the driver looks at left only once the
	// goroutine has ended.
	left []byte
	eof  bool
	// The driver's view.
	state  int // what the goroutine waits for: evNeed, evData; or evEnd, evErr
	err    error
	ending bool // the input is complete
}

const (
	evNeed = iota // wants input: resume with a chunk, or nil for the end
	evData        // has output in data: resume once it is copied
	evEnd         // finished; the goroutine has ended
	evErr         // failed with err; the goroutine has ended
)

type zevent struct {
	kind int
	data []byte
	err  error
}

var errStopped = errors.New("stopped")

func newInflater(format int) *inflater {
	f := &inflater{events: make(chan zevent), resume: make(chan []byte), quit: make(chan struct{})}
	go f.run(format)
	return f
}

func (f *inflater) run(format int) {
	// No V8 frame is below this goroutine to turn a panic into an
	// exception: the stream fails instead of the process.
	defer func() {
		if r := recover(); r != nil {
			select {
			case f.events <- zevent{kind: evErr, err: fmt.Errorf("decompression failed: %v", r)}:
			case <-f.quit:
			}
		}
	}()
	var r io.Reader
	var err error
	switch format {
	case zGzip:
		var g *gzip.Reader
		if g, err = gzip.NewReader(f); err == io.EOF {
			err = io.ErrUnexpectedEOF // no header at all
		} else if err == nil {
			g.Multistream(false) // data after the first member is junk
			r = g
		}
	case zDeflate:
		r, err = zlib.NewReader(f)
	default:
		r = flate.NewReader(f)
	}
	if err == nil {
		buf := make([]byte, 32<<10)
		for {
			var n int
			n, err = r.Read(buf)
			if n > 0 && !f.send(zevent{kind: evData, data: buf[:n]}) {
				return
			}
			if err != nil {
				break
			}
		}
	}
	ev := zevent{kind: evEnd}
	if err != io.EOF {
		ev = zevent{kind: evErr, err: err}
	}
	if errors.Is(err, errStopped) {
		return
	}
	select {
	case f.events <- ev:
	case <-f.quit:
	}
}

// send hands the driver ev and waits for its answer.
func (f *inflater) send(ev zevent) bool {
	select {
	case f.events <- ev:
	case <-f.quit:
		return false
	}
	select {
	case in := <-f.resume:
		if ev.kind == evNeed {
			if in == nil {
				f.eof = true
			} else {
				f.left = in
			}
		}
		return true
	case <-f.quit:
		return false
	}
}

// Read and ReadByte feed the decompressor. Being an io.ByteReader keeps
// the compress packages from reading ahead through a bufio.Reader, so
// what is left after the end is exactly the junk.
func (f *inflater) Read(p []byte) (int, error) {
	if err := f.fill(); err != nil {
		return 0, err
	}
	n := copy(p, f.left)
	f.left = f.left[n:]
	return n, nil
}

func (f *inflater) ReadByte() (byte, error) {
	if err := f.fill(); err != nil {
		return 0, err
	}
	b := f.left[0]
	f.left = f.left[1:]
	return b, nil
}

func (f *inflater) fill() error {
	for len(f.left) == 0 {
		if f.eof {
			return io.EOF
		}
		if !f.send(zevent{kind: evNeed}) {
			return errStopped
		}
	}
	return nil
}

func (f *inflater) stop() {
	select {
	case <-f.quit:
	default:
		close(f.quit)
	}
}

// advance waits for the inflater's next event; output becomes pending,
// aliasing the goroutine's buffer until the goroutine is resumed.
func (s *zstream) advance() {
	ev := <-s.inf.events
	s.inf.state, s.inf.err = ev.kind, ev.err
	if ev.kind == evData {
		s.pending = ev.data
	}
}

// zError is an error JavaScript throws as a TypeError or a RangeError.
type zError struct {
	rangeErr bool
	msg      string
}

func (e *zError) Error() string { return e.msg }

func typeErr(format string, args ...any) error {
	return &zError{msg: fmt.Sprintf(format, args...)}
}

var errJunk = typeErr("DecompressionStream: junk after the end of the compressed data")

func newZStream(format int, decompress bool) (*zstream, error) {
	s := &zstream{}
	if decompress {
		s.inf = newInflater(format)
		s.advance()
		return s, nil
	}
	var err error
	switch format {
	case zGzip:
		s.w = gzip.NewWriter(&s.buf)
	case zDeflate:
		s.w = zlib.NewWriter(&s.buf)
	default:
		s.w, err = flate.NewWriter(&s.buf, flate.DefaultCompression)
	}
	return s, err
}

// write takes a chunk of input (a copy: the scratch is reused).
func (s *zstream) write(in []byte) error {
	if len(in) == 0 {
		return nil
	}
	if s.inf == nil {
		s.w.Write(in) // writes to a bytes.Buffer, which cannot fail
		s.takeBuf()
		return nil
	}
	switch s.inf.state {
	case evNeed:
		s.inf.resume <- in
		s.advance()
		return nil
	case evData:
		return errors.New("zstream: write before the output was pulled")
	case evEnd:
		return errJunk
	}
	return nil // failed: pull reports it
}

// end says the input is complete.
func (s *zstream) end() {
	if s.inf == nil {
		s.w.Close()
		s.takeBuf()
		return
	}
	s.inf.ending = true
	if s.inf.state == evNeed {
		s.inf.resume <- nil
		s.advance()
	}
}

func (s *zstream) takeBuf() {
	s.pending = append(s.pending, s.buf.Bytes()...)
	s.buf.Reset()
}

// pull copies output into dst: how much, and whether more is waiting.
func (s *zstream) pull(dst []byte) (n int, more bool, err error) {
	for n < len(dst) {
		if len(s.pending) > 0 {
			k := copy(dst[n:], s.pending)
			s.pending = s.pending[k:]
			n += k
			continue
		}
		if s.inf == nil || s.inf.state != evData {
			break
		}
		s.inf.resume <- nil
		s.advance()
	}
	if s.inf == nil {
		if len(s.pending) == 0 {
			s.pending = nil // let go of a large buffer
		}
		return n, len(s.pending) > 0, nil
	}
	f := s.inf
	switch {
	case f.state == evErr:
		return 0, false, typeErr("DecompressionStream: the input is not valid compressed data (%v)", f.err)
	case f.state == evEnd && len(f.left) > 0:
		return 0, false, errJunk
	}
	return n, len(s.pending) > 0 || f.state == evData, nil
}

func init() {
	// zOpen(format, decompress) -> a handle, or an error string.
	registerNative("zOpen", func(i *Isolate, info *v8.FunctionCallbackInfo) (*v8.Value, error) {
		args := info.Args()
		format := intArg(args, 0)
		if format < zGzip || format > zDeflateRaw {
			return nil, errors.New("zOpen: bad format")
		}
		z := &i.zs
		if len(z.streams) >= maxZStreams {
			return i.ret(fmt.Sprintf("RangeError:a function may have at most %d compression and decompression streams at once; close or cancel the ones it is done with", maxZStreams))
		}
		s, err := newZStream(format, len(args) > 1 && args[1].Boolean())
		if err != nil {
			return nil, err
		}
		if z.streams == nil {
			z.streams = map[int32]*zstream{}
		}
		z.last++
		z.streams[z.last] = s
		return i.ret(z.last)
	})
	// zWrite(id, n) feeds n scratch bytes; zEnd(id) ends the input;
	// zPull(id) asks for more output. Each answers with the number of
	// output bytes in the scratch (slot 0 is 1 when more is waiting) or an
	// error string, after which the stream is gone.
	step := func(op string) nativeFunc {
		return func(i *Isolate, info *v8.FunctionCallbackInfo) (*v8.Value, error) {
			args := info.Args()
			id := int32(intArg(args, 0))
			s := i.zs.streams[id]
			if s == nil {
				return i.ret("TypeError:the stream's state ended with the call that used it first: compression streams do not outlive their invocation")
			}
			var err error
			switch op {
			case "write":
				in, inErr := i.web.in(0, intArg(args, 1))
				if inErr != nil {
					return nil, inErr
				}
				err = s.write(bytes.Clone(in))
			case "end":
				s.end()
			}
			n, more := 0, false
			if err == nil {
				dst := i.web.data()
				if len(dst) > zStep {
					dst = dst[:zStep]
				}
				n, more, err = s.pull(dst)
			}
			if err == nil && s.inf != nil {
				i.zs.inflated += int64(n)
				if i.zs.inflated > i.inflateCap() {
					err = &zError{rangeErr: true, msg: fmt.Sprintf("DecompressionStream: the output passed %d MiB, the limit of one invocation's decompressed data", i.inflateCap()>>20)}
				}
			}
			if err != nil {
				s.close()
				delete(i.zs.streams, id)
				var ze *zError
				if errors.As(err, &ze) {
					kind := "TypeError:"
					if ze.rangeErr {
						kind = "RangeError:"
					}
					return i.ret(kind + ze.msg)
				}
				return nil, err
			}
			more1 := 0
			if more {
				more1 = 1
			}
			i.web.setSlot(0, more1)
			return i.ret(int32(n))
		}
	}
	registerNative("zWrite", step("write"))
	registerNative("zEnd", step("end"))
	registerNative("zPull", step("pull"))
	// zFree(id) drops a stream (cancelled or errored in JavaScript).
	registerNative("zFree", func(i *Isolate, info *v8.FunctionCallbackInfo) (*v8.Value, error) {
		id := int32(intArg(info.Args(), 0))
		if s := i.zs.streams[id]; s != nil {
			s.close()
			delete(i.zs.streams, id)
		}
		return nil, nil
	})
}
