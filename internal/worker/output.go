package worker

import (
	"bufio"
	"io"
	"log/slog"
	"strconv"
)

// logOutput returns a writer that turns a worker's stdout/stderr into log
// lines, quoted: a compromised worker must not write escape sequences to
// the operator's terminal. The caller closes the writer when the process
// is gone; Close returns once the last line is logged, so that nothing is
// logged after the node that spawned the worker has closed.
func logOutput(log *slog.Logger, namespace string) io.WriteCloser {
	r, w := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := bufio.NewScanner(r)
		s.Buffer(make([]byte, 4096), 64<<10)
		for s.Scan() {
			log.Warn("worker output", "namespace", namespace, "line", strconv.Quote(s.Text()))
		}
		io.Copy(io.Discard, r)
	}()
	return &outputLog{PipeWriter: w, done: done}
}

type outputLog struct {
	*io.PipeWriter
	done chan struct{}
}

func (o *outputLog) Close() error {
	err := o.PipeWriter.Close()
	<-o.done
	return err
}
