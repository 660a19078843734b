package sandbox

import (
	seccomp "github.com/elastic/go-seccomp-bpf"
)

// Calls that exist on amd64 only (arm64 has just their *at forms).
var (
	legacyAllowed     = []string{"arch_prctl", "epoll_wait", "dup2", "pipe", "time"}
	legacyProbes      = []string{"readlink", "access"}
	legacyConditional = []seccomp.NameWithConditions{
		{Name: "open", Conditions: seccomp.ArgumentConditions{{Argument: 1, Operation: seccomp.BitsNotSet, Value: openWrites}}},
	}
)
