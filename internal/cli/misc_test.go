package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

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

// wantNoControls fails when out holds a control character other than the
// newlines ending its lines, or a byte that is not UTF-8.
func wantNoControls(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s printed bytes that are not UTF-8: %q", what, out)
	}
	for _, r := range out {
		if r != '\n' && (api.IsControl(r) || r == '\u202e') {
			t.Errorf("%s printed control character %U: %q", what, r, out)
			return
		}
	}
}

// A function's log message can neither forge log lines nor send escape
// sequences to the terminal.
func TestLogsEscapeControlCharacters(t *testing.T) {
	url := controltest.Start(t)
	js := testenv.JetStream(t, testenv.Conn(t, url))
	forged := "real\n2026-01-01T00:00:00Z ERROR forged line\r\x1b]0;pwned\x07\x1b[2J\u009b31m\x7f\xff tab\there ünïcode ✓ \u202eevil"
	entry, err := json.Marshal(api.LogEntry{Time: time.Now(), Namespace: "default", Function: "fn", Level: "info\x1b[8m", Message: forged})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), api.LogSubject("default", "fn"), entry); err != nil {
		t.Fatal(err)
	}
	// JSON has no invalid UTF-8: \xff arrives as U+FFFD.
	code, stdout, stderr := run(t, "", "logs", "fn", "-s", url)
	if code != 0 || stderr != "" {
		t.Fatalf("logs: %d %q", code, stderr)
	}
	if strings.Count(stdout, "\n") != 1 {
		t.Errorf("one entry printed as %d lines: %q", strings.Count(stdout, "\n"), stdout)
	}
	wantNoControls(t, "logs", stdout)
	for _, want := range []string{`real\n2026-01-01T00:00:00Z ERROR forged line\r\x1b]0;pwned\a\x1b[2J\u009b31m\x7f� tab\there ünïcode ✓ \u202eevil`, `INFO\x1b[8M`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("logs printed %q, want it to contain %q", stdout, want)
		}
	}
}

// Specs stored before subjects were checked for control characters (or
// written around the control API) are shown escaped by ls and info.
func TestListInfoEscapeControlCharacters(t *testing.T) {
	url := controltest.Start(t)
	st, err := store.Open(t.Context(), testenv.JetStream(t, testenv.Conn(t, url)))
	if err != nil {
		t.Fatal(err)
	}
	spec := api.FunctionSpec{Namespace: "default", Name: "old", Triggers: []string{"a\x1b[2Jb", "c\x00d"},
		Env: map[string]string{"K\x1b]0;x\x07": "v"}, Source: "f\u202esj.exe", HTTPAllow: []string{"h\nx"}}
	if _, err := st.Put(t.Context(), api.FunctionInfo{Spec: spec}, []byte("() => 1")); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "", "ls", "-s", url)
	if code != 0 || !strings.Contains(stdout, `a\x1b[2Jb,c\x00d`) {
		t.Errorf("ls: %d %q %q", code, stdout, stderr)
	}
	wantNoControls(t, "ls", stdout)
	code, stdout, stderr = run(t, "", "info", "old", "-s", url)
	if code != 0 || !strings.Contains(stdout, `a\x1b[2Jb, c\x00d`) || !strings.Contains(stdout, `K\x1b]0;x\a`) || !strings.Contains(stdout, `f\u202esj.exe`) {
		t.Errorf("info: %d %q %q", code, stdout, stderr)
	}
	wantNoControls(t, "info", stdout)
}

// rm says what became of the function's data: kept, with how to delete it,
// or deleted with --purge; a deploy of the name can keep it.
func TestRemovePurgeOutput(t *testing.T) {
	url := controltest.Start(t)
	js := testenv.JetStream(t, testenv.Conn(t, url))
	fn := writeFile(t, "vault.js", "() => 1")
	// The data a function's host services make, here made by hand.
	makeData := func() {
		t.Helper()
		if _, err := js.CreateOrUpdateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "fn_7_default_vault"}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateOrUpdateObjectStore(t.Context(), jetstream.ObjectStoreConfig{Bucket: "fn_7_default_vault"}); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, stderr := run(t, "", "deploy", fn, "--trigger", "vault", "-s", url); code != 0 {
		t.Fatalf("deploy: %q", stderr)
	}
	makeData()
	code, stdout, stderr := run(t, "", "rm", "vault", "-s", url)
	want := "removed default/vault; kept its data (KV bucket fn_7_default_vault, object store fn_7_default_vault): `natsfn rm vault --purge` deletes it, and a new deploy of vault starts empty unless --keep-data\n"
	if code != 0 || stdout != want {
		t.Errorf("rm: %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "", "rm", "vault", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "rm vault --purge deletes it")

	// --keep-data keeps it; so does a redeploy.
	for range 2 {
		if code, _, stderr := run(t, "", "deploy", fn, "--trigger", "vault", "--keep-data", "-s", url); code != 0 {
			t.Fatalf("deploy --keep-data: %q", stderr)
		}
	}
	if _, err := js.KeyValue(t.Context(), "fn_7_default_vault"); err != nil {
		t.Fatalf("the data after deploy --keep-data: %v", err)
	}
	code, stdout, stderr = run(t, "", "rm", "vault", "--purge", "-s", url)
	if code != 0 || stdout != "removed default/vault and its data: KV bucket fn_7_default_vault, object store fn_7_default_vault\n" {
		t.Errorf("rm --purge: %d %q %q", code, stdout, stderr)
	}
	if _, err := js.KeyValue(t.Context(), "fn_7_default_vault"); err == nil {
		t.Error("the KV bucket is still there after rm --purge")
	}

	// Data without a function: rm --purge deletes it, and a deploy does.
	makeData()
	code, stdout, stderr = run(t, "", "rm", "--purge", "vault", "-s", url)
	if code != 0 || stdout != "deleted the data function default/vault left: KV bucket fn_7_default_vault, object store fn_7_default_vault\n" {
		t.Errorf("rm --purge of left data: %d %q %q", code, stdout, stderr)
	}
	makeData()
	if code, _, stderr := run(t, "", "deploy", fn, "--trigger", "vault", "-s", url); code != 0 {
		t.Fatalf("deploy: %q", stderr)
	}
	if _, err := js.ObjectStore(t.Context(), "fn_7_default_vault"); err == nil {
		t.Error("a new function of the name found the object store left before it")
	}
	code, stdout, stderr = run(t, "", "rm", "vault", "--purge", "-s", url)
	if code != 0 || stdout != "removed default/vault (it had no data)\n" {
		t.Errorf("rm --purge without data: %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "", "rm", "vault", "--purge", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "no data of that name")
}
