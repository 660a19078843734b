package engine

import (
	"sync"

	v8 "github.com/tommie/v8go"

	"github.com/natsfn/natsfn/internal/version"
)

// userAgent is navigator.userAgent: natsfn and its version.
var userAgent = sync.OnceValue(func() string { return "natsfn/" + version.Get().Version })

func init() {
	registerNative("userAgent", func(i *Isolate, _ *v8.FunctionCallbackInfo) (*v8.Value, error) {
		return i.ret(userAgent())
	})
}
