package bundle

import (
	"fmt"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// refuseNodeBuiltins turns an import of a Node.js module into a clear error:
// functions have no file system, sockets or process, and esbuild's own
// "could not resolve" would send the user looking for a missing package.
var refuseNodeBuiltins = api.Plugin{
	Name: "natsfn",
	Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: `^[a-z_]`}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			if !isNodeBuiltin(a.Path) {
				return api.OnResolveResult{}, nil // let esbuild resolve it
			}
			return api.OnResolveResult{Errors: []api.Message{{
				Text: fmt.Sprintf("%q is a Node.js module, which functions cannot use; reach the outside through hostServices", a.Path),
			}}}, nil
		})
	},
}

// nodeBuiltins are the modules Node.js ships; "fs/promises" and other
// subpaths count as their first segment.
var nodeBuiltins = map[string]bool{
	"assert": true, "async_hooks": true, "buffer": true, "child_process": true,
	"cluster": true, "console": true, "constants": true, "crypto": true,
	"dgram": true, "diagnostics_channel": true, "dns": true, "domain": true,
	"events": true, "fs": true, "http": true, "http2": true, "https": true,
	"inspector": true, "module": true, "net": true, "os": true, "path": true,
	"perf_hooks": true, "process": true, "punycode": true, "querystring": true,
	"readline": true, "repl": true, "stream": true, "string_decoder": true,
	"sys": true, "timers": true, "tls": true, "trace_events": true, "tty": true,
	"url": true, "util": true, "v8": true, "vm": true, "wasi": true,
	"worker_threads": true, "zlib": true,
}

func isNodeBuiltin(path string) bool {
	if strings.HasPrefix(path, "node:") {
		return true
	}
	first, _, _ := strings.Cut(path, "/")
	return nodeBuiltins[first]
}
