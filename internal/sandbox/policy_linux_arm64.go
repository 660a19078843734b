package sandbox

import seccomp "github.com/elastic/go-seccomp-bpf"

// arm64 has no legacy calls to add.
var (
	legacyAllowed     []string
	legacyProbes      []string
	legacyConditional []seccomp.NameWithConditions
)
