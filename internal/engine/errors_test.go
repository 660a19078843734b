package engine_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/internal/bundle"
	"github.com/natsfn/natsfn/internal/engine"
)

// writeFiles lays out a project in a temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func call(t *testing.T, iso *engine.Isolate) engine.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return iso.Invoke(ctx, &engine.Invocation{Subject: "greet", Reply: "_INBOX.x", Payload: []byte("ann")})
}

// A bundle's stack traces and console lines name the user's files and
// lines, through the source map the bundle carries.
func TestStackTracesNameSourceLines(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"greet.ts": `import { greeting } from './lib/greeting';

export default function (subject: string, payload: Uint8Array & { text(): string }) {
  console.log(new Error('where').stack);
  return greeting(payload.text());
}
`,
		"lib/greeting.ts": `interface Options { loud: boolean }

export function greeting(name: string, o?: Options): string {
  if (name === 'ann') {
    throw new TypeError('no greeting for ' + name);
  }
  return 'hello ' + name;
}
`,
	})
	b, err := bundle.Build(filepath.Join(dir, "greet.ts"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.Compile("greet.js", b.Script)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	iso, err := engine.NewIsolate(p, engine.Options{Console: func(level, line string) { lines = append(lines, line) }})
	if err != nil {
		t.Fatal(err)
	}
	defer iso.Dispose()
	res := call(t, iso)
	if res.Err == nil {
		t.Fatal("the call succeeded")
	}
	if got, want := res.Err.Message, "function failed: TypeError: no greeting for ann"; got != want {
		t.Errorf("caller sees %q, want %q", got, want)
	}
	for _, want := range []string{"lib/greeting.ts:5:11", "greet.ts:5:"} {
		if !strings.Contains(res.Detail, want) {
			t.Errorf("stack %q does not name %s", res.Detail, want)
		}
	}
	if strings.Contains(res.Detail, "greet.js:") || strings.Contains(res.Detail, "natsfn:") {
		t.Errorf("stack %q names the bundle or natsfn's own code", res.Detail)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "greet.ts:4:") {
		t.Errorf("console lines %q: want the stack of line 4 of greet.ts", lines)
	}
}

// An error at the top level names the file and line of the user's code,
// also when built-in code threw it.
func TestTopLevelErrorsNameTheFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"conf.ts": `
const settings = JSON.parse('{oops');
export default () => settings;
`,
	})
	b, err := bundle.Build(filepath.Join(dir, "conf.ts"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = engine.Check("conf.js", b.Script, engine.Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "conf.ts:2:") || !strings.Contains(err.Error(), "SyntaxError") {
		t.Fatalf("got %v, want conf.ts:2:...: SyntaxError", err)
	}
	// A plain script has no map: its own name and line.
	_, err = engine.Check("plain.js", "\nJSON.parse('{oops');\n(() => 1)", engine.Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "plain.js:2:") {
		t.Fatalf("got %v, want plain.js:2:...", err)
	}
}

// The caller's error carries the exception's message on one line, never
// the stack, and nothing when the operator hides it.
func TestExceptionMessageForTheCaller(t *testing.T) {
	tests := []struct{ src, want string }{
		{`() => { throw new Error("boom") }`, "function failed: Error: boom"},
		{`() => { throw new RangeError("a\r\nb") }`, "function failed: RangeError: a  b"},
		{`() => { throw "plain" }`, "function failed: uncaught plain"},
		{`async () => { const e = new Error("x"); e.name = "MyError"; throw e }`, "function failed: MyError: x"},
		{`() => { throw new Error("x".repeat(2000)) }`, "function failed: Error: " + strings.Repeat("x", 505)},
		{`() => { throw { get message() { throw 1 } } }`, "function failed: uncaught"},
	}
	for _, tt := range tests {
		for _, hide := range []bool{false, true} {
			p, err := engine.Compile("t.js", tt.src)
			if err != nil {
				t.Fatal(err)
			}
			iso, err := engine.NewIsolate(p, engine.Options{HideExceptions: hide})
			if err != nil {
				t.Fatal(err)
			}
			res := call(t, iso)
			iso.Dispose()
			want := tt.want
			if hide {
				want = "function failed"
			}
			if res.Err == nil || !strings.HasPrefix(res.Err.Message, want) || (hide && res.Err.Message != want) {
				t.Errorf("%s (hide %v): caller sees %v, want %q", tt.src, hide, res.Err, want)
			}
		}
	}
}

// A bundle's map comes from the user: a malformed or hostile one leaves
// positions as they are and takes nothing down.
func TestMalformedSourceMaps(t *testing.T) {
	for _, m := range []string{
		"!!!not base64",
		"eyJ2ZXJzaW9uIjozfQ==", // {"version":3}
		base64.StdEncoding.EncodeToString([]byte(`{"mappings":"A"}`)), // panics go-sourcemap's Source
		base64.StdEncoding.EncodeToString([]byte(`{"version":3,"sources":[],"names":[],"mappings":"AAAA,CAAC;;;ZZZZ,+/+/+/+/+/+/"}`)),
		base64.StdEncoding.EncodeToString([]byte(`{"version":3,"sources":["a.ts"],"names":[],"mappings":"AAAAA,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,gggggggggggggggggggggg"}`)),
	} {
		src := "(() => { throw new Error('x') })\n//# sourceMappingURL=data:application/json;base64," + m + "\n"
		p, err := engine.Compile("m.js", src)
		if err != nil {
			t.Fatal(err)
		}
		iso, err := engine.NewIsolate(p, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		res := call(t, iso)
		iso.Dispose()
		if res.Err == nil || !strings.Contains(res.Detail, "Error: x") {
			t.Errorf("map %q: %v %s", m, res.Err, res.Detail)
		}
	}
	// A syntax error reported through a hostile map: Compile runs in the
	// node when a deploy is checked without the sandbox.
	for _, m := range []string{`{"mappings":"A"}`, `{"version":3,"sources":["a.ts"],"mappings":";;;;;;;;;;;;;;AAAA"}`} {
		_, err := engine.Compile("m.js", "let = ;\n//# sourceMappingURL=data:application/json;base64,"+
			base64.StdEncoding.EncodeToString([]byte(m))+"\n")
		if err == nil || !strings.Contains(err.Error(), "SyntaxError") {
			t.Errorf("syntax error through the map %s: %v", m, err)
		}
	}
}
