package engine

import (
	"testing"

	v8 "github.com/tommie/v8go"
)

func TestSmoke(t *testing.T) {
	iso := v8.NewIsolate()
	defer iso.Dispose()
	ctx := v8.NewContext(iso)
	defer ctx.Close()
	v, err := ctx.RunScript("1+2", "x.js")
	if err != nil || v.Int32() != 3 {
		t.Fatal(v, err)
	}
}
