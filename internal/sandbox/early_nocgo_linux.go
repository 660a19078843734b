//go:build linux && !cgo

package sandbox

// Without cgo there is no constructor to enter the sandbox before the Go
// runtime starts its threads, so there is no sandbox.
const haveEarlyStage = false

func earlyState() (ready bool, landlockABI int) { return false, 0 }
