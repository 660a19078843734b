package cli_test

import (
	"strings"
	"testing"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/control/controltest"
	"github.com/natsfn/natsfn/internal/store"
	"github.com/natsfn/natsfn/internal/testenv"
)

// A deploy that does not fit in the staging area left by abandoned uploads
// says so in one line.
func TestDeployStagingAreaFull(t *testing.T) {
	url := controltest.Start(t)
	js := testenv.JetStream(t, testenv.Conn(t, url))
	obs, err := js.ObjectStore(t.Context(), api.UploadsBucket)
	if err != nil {
		t.Fatal(err)
	}
	// Abandoned uploads, up to a MiB short of the limit.
	if _, err := obs.PutBytes(t.Context(), "default.old.1", make([]byte, store.UploadMaxBytes-1<<20)); err != nil {
		t.Fatal(err)
	}
	fn := writeFile(t, "big.js", "() => '"+strings.Repeat("x", 2<<20)+"'")
	code, stdout, stderr := run(t, "", "deploy", fn, "--trigger", "big", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "staging area natsfn_uploads is full (at most 40 MiB; uploads no deploy took expire after 15m0s)")
}
