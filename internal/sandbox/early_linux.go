//go:build linux && cgo

package sandbox

// The first stage of the sandbox is the C constructor in early_linux.c.

// extern int natsfn_sandbox_ready;
// extern int natsfn_sandbox_landlock_abi;
import "C"

// haveEarlyStage: the constructor is linked in.
const haveEarlyStage = true

// earlyState says whether the constructor sandboxed this process, and with
// which Landlock ABI (0: none).
func earlyState() (ready bool, landlockABI int) {
	return C.natsfn_sandbox_ready == 1, int(C.natsfn_sandbox_landlock_abi)
}
