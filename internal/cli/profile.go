package cli

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// envNodeProfile names a file `natsfn up` writes a CPU profile of the node
// process to (with the embedded server, if it runs one), until it stops;
// NATSFN_WORKER_CPUPROFILE does the same for its workers
// (docs/performance.md).
const envNodeProfile = "NATSFN_CPUPROFILE"

func startNodeProfile() (stop func(), err error) {
	path := os.Getenv(envNodeProfile)
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envNodeProfile, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", envNodeProfile, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
