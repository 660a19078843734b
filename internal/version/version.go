// Package version says which build of natsfn is running.
package version

import (
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info describes a build of natsfn.
type Info struct {
	// Version is the module version the binary was built at ("v1.2.3"),
	// else "devel".
	Version string `json:"version"`
	// Commit is the VCS revision, with "-dirty" for uncommitted changes;
	// empty when the build did not record one.
	Commit string `json:"commit,omitempty"`
	Go     string `json:"go"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Get reads the build information of the running binary.
func Get() Info {
	info := Info{Version: "devel", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		info.Version = v
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && info.Commit != "" {
		info.Commit += "-dirty"
	}
	return info
}

// String is the one line `natsfn version` prints.
func (i Info) String() string {
	s := "natsfn " + i.Version
	if i.Commit != "" && !strings.Contains(i.Version, i.Commit) {
		s += " (" + i.Commit + ")"
	}
	return s + " " + i.Go + " " + i.Platform
}

// SemVer is the version as semantic versioning wants it, which NATS micro
// services require: "v1.2.3" becomes "1.2.3", and a development build
// "0.0.0-devel".
func (i Info) SemVer() string {
	v := strings.TrimPrefix(i.Version, "v")
	if !semVer.MatchString(v) {
		return "0.0.0-devel"
	}
	return v
}

var semVer = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
