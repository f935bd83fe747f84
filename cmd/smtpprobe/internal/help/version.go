package help

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is what --version prints: version, the VCS revision and
// commit time, and the Go version and platform the binary was built with
// (debug.ReadBuildInfo).
func Version(version string) string {
	s := "smtpprobe " + version + "\n"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return s + "no build information (built without module support)\n"
	}
	rev, at, dirty := "unknown", "unknown", ""
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.time":
			at = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = " (modified)"
			}
		}
	}
	return s + fmt.Sprintf("revision %s%s, committed %s\n%s %s/%s\n", rev, dirty, at, bi.GoVersion, runtime.GOOS, runtime.GOARCH)
}

// ModuleVersion is the main module's version from the build info, or
// "dev" for a build outside a module release (go build in a checkout).
func ModuleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
