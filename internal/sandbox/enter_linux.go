package sandbox

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
)

// Enter is the worker's last step into the sandbox; it calls it first thing
// in main, once it holds every descriptor it needs, before it reads any
// untrusted input. The constructor in early_linux.c has already given it an
// empty read-only root, dropped its capabilities, set no_new_privs and
// applied Landlock, all before the process had a second thread. Enter adds
// the seccomp allowlist, on every thread (SECCOMP_FILTER_FLAG_TSYNC).
func Enter(opts EnterOptions) error {
	if ready, _ := earlyState(); !ready {
		return ErrNotSandboxed
	}
	err := seccomp.LoadFilter(seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy:     policy(opts.Audit, opts.Profile),
	})
	if err != nil {
		return fmt.Errorf("sandbox: seccomp: %w", err)
	}
	return nil
}
