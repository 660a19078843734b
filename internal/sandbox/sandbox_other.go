//go:build !linux

package sandbox

import "errors"

var errUnsupported = errors.New("sandbox: needs Linux (namespaces, seccomp, cgroups)")

// Process is a running worker; there is none off Linux.
type Process struct{}

// Check says the sandbox cannot run here.
func Check() error { return errUnsupported }

// Start fails off Linux.
func Start(Config) (*Process, error) { return nil, errUnsupported }

// Enter fails off Linux.
func Enter(EnterOptions) error { return errUnsupported }

func (p *Process) Pid() int                { return 0 }
func (p *Process) Kill()                   {}
func (p *Process) Wait() (ExitInfo, error) { return ExitInfo{}, errUnsupported }
