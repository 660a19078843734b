package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Check starts a probe worker through the whole sandbox (namespaces, cgroup
// with limits, empty root, Landlock where present) and says why it failed,
// in one line; nil means Start will work here. It takes a few milliseconds.
func Check() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("sandbox: cannot find my own executable: %w", err)
	}
	var stderr bytes.Buffer
	p, err := start(Config{Path: exe, Name: "probe", MemoryBytes: 64 << 20, Pids: 16, Stderr: &stderr}, "probe")
	if err != nil {
		return hint(err)
	}
	info, err := p.Wait()
	if err != nil {
		return err
	}
	if info.Code != 0 || info.Signal != 0 {
		reason := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(reason, '\n'); i >= 0 {
			reason = reason[:i]
		}
		if reason == "" {
			reason = "probe " + info.String()
		}
		return errors.New(strings.TrimPrefix(reason, "natsfn "))
	}
	return nil
}

// hint says what to look at when namespaces cannot be made.
func hint(err error) error {
	if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "operation not permitted") {
		return fmt.Errorf("%w (are user namespaces disabled? see user.max_user_namespaces, kernel.unprivileged_userns_clone, AppArmor's restrict_unprivileged_userns)", err)
	}
	return err
}
