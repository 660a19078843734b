package worker

import (
	"bufio"
	"bytes"
	"io"
	"sync"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := newWriter(&buf)
	if err := w.send(frameInvoke, 42, u64Field(7), []byte("subj"), nil, []byte{}, []byte{0, 255}); err != nil {
		t.Fatal(err)
	}
	w.queue(frameLog, 1, []byte("info"), []byte("line"))
	w.flush()
	r := bufio.NewReader(&buf)
	f, err := readFrame(r)
	if err != nil || f.typ != frameInvoke || f.id != 42 || f.u64(0) != 7 || f.str(1) != "subj" || len(f.field(2)) != 0 || !bytes.Equal(f.field(4), []byte{0, 255}) {
		t.Fatalf("%+v %v", f, err)
	}
	if f.field(9) != nil || f.u64(1) != 0 {
		t.Fatal("missing fields must read as empty")
	}
	if f, err := readFrame(r); err != nil || f.typ != frameLog || f.str(1) != "line" {
		t.Fatalf("%+v %v", f, err)
	}
}

// A worker that breaks out of its sandbox may send the node anything: no
// byte sequence may crash the reader.
func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	newWriter(&buf).send(frameResult, 3, []byte("500"), []byte("m"), nil, []byte("body"))
	f.Add(buf.Bytes())
	f.Add([]byte{11, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255})
	f.Add([]byte{255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			fr, err := readFrame(r)
			if err != nil {
				return
			}
			for i := range fr.fields {
				_ = fr.str(i)
				_ = fr.u64(i)
			}
		}
	})
}

// Large frames, written straight from their fields, and small ones sent
// at the same time from many goroutines all arrive whole.
func TestLargeFramesInterleaved(t *testing.T) {
	r, wconn := io.Pipe()
	w := newWriter(wconn)
	big := bytes.Repeat([]byte{7}, 3*eagerFlush)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if i%5 == 0 {
					w.send(frameHost, uint64(g*100+i), []byte("big"), big)
				} else {
					w.send(frameLog, uint64(g*100+i), []byte("small"), []byte("x"))
				}
			}
		}()
	}
	br := bufio.NewReader(r)
	for range 8 * 20 {
		f, err := readFrame(br)
		if err != nil {
			t.Fatal(err)
		}
		switch f.str(0) {
		case "big":
			if f.typ != frameHost || !bytes.Equal(f.field(1), big) {
				t.Fatalf("frame %d mangled", f.id)
			}
		case "small":
			if f.typ != frameLog || f.str(1) != "x" {
				t.Fatalf("frame %d mangled", f.id)
			}
		default:
			t.Fatalf("frame %+v", f)
		}
	}
	wg.Wait()
}
