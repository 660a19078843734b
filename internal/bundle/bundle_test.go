package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/api"
)

// writeFiles lays out files (slash paths relative to a new temp dir) and
// returns the dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScriptFormIsKeptAsWritten(t *testing.T) {
	src := "// the Nex form\n(subject, payload) => {\n  this.hostServices.kv.set('k', payload);\n  return { triggered_on: subject, payload: payload.text() }\n};\n"
	b, err := BuildSource("echo.js", []byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if b.Module {
		t.Error("Module = true for a plain script")
	}
	if b.Script != src {
		t.Errorf("script changed:\n%s", b.Script)
	}
}

func TestModuleEvaluatesToDefaultExport(t *testing.T) {
	src := "export const unused = 1;\nexport default function handler(subject) { return 'hi ' + subject }\n"
	b, err := BuildSource("hello.mjs", []byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !b.Module {
		t.Error("Module = false for an ES module")
	}
	if !strings.HasSuffix(b.Script, "\n__natsfn_module.default;\n") {
		t.Errorf("script does not end with the default export:\n%s", b.Script)
	}
	if !strings.HasPrefix(b.Script, "var __natsfn_module = (() => {") {
		t.Errorf("script is not an IIFE assigned to the global:\n%s", b.Script)
	}
	if strings.Contains(b.Script, "export default") || strings.Contains(b.Script, "export const") {
		t.Errorf("module syntax left in a classic script:\n%s", b.Script)
	}
}

func TestTypeScriptWithImport(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"fn.ts": `import { greet, type Greeting } from "./lib/greet";
interface Msg { headers: Record<string, string[]> }
export default async function (subject: string, payload: Uint8Array, msg?: Msg): Promise<Greeting> {
  return greet(subject);
}
`,
		"lib/greet.ts": `export type Greeting = { text: string };
export function greet(who: string): Greeting { return { text: "hello from helper " + who }; }
`,
	})
	b, err := Build(filepath.Join(dir, "fn.ts"))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Module {
		t.Error("Module = false for TypeScript")
	}
	for _, want := range []string{"hello from helper", "__natsfn_module.default;"} {
		if !strings.Contains(b.Script, want) {
			t.Errorf("script lacks %q:\n%s", want, b.Script)
		}
	}
	for _, typeOnly := range []string{"interface", "Promise<Greeting>", ": string"} {
		if strings.Contains(b.Script, typeOnly) {
			t.Errorf("script still has TypeScript %q:\n%s", typeOnly, b.Script)
		}
	}
	if strings.Contains(b.Script, dir) {
		t.Errorf("script leaks the build directory %s", dir)
	}
}

func TestJavaScriptRelativeImport(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.js":   "import { double } from './math.js';\nexport default (s, p) => double(p.length);\n",
		"math.js":   "export const double = (n) => n * 2 + MAGIC;\nconst MAGIC = 424242;\n",
		"unused.js": "throw new Error('must not be bundled')",
	})
	b, err := Build(filepath.Join(dir, "main.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.Script, "424242") || strings.Contains(b.Script, "must not be bundled") {
		t.Errorf("helper not bundled as expected:\n%s", b.Script)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, src string
		is        error
		want      string
	}{
		{"empty.js", "", ErrEmpty, "empty.js: source is empty"},
		{"blank.js", " \n\t\n", ErrEmpty, "source is empty"},
		{"named.js", "export function handler() {}\n", ErrNoDefaultExport, "named.js: module has no default export"},
		{"script.ts", "(s: string) => s;\n", ErrNoDefaultExport, "has no default export"},
		{"bad.js", "(subject) => {\n  return {\n    a: 1,,\n  }\n};\n", nil, "bad.js:3:10: "},
		{"fs.js", "import { readFileSync } from 'fs';\nexport default () => readFileSync('/etc/passwd');\n", nil, `fs.js:1:30: "fs" is a Node.js module`},
		{"nodefs.mjs", "import fs from 'node:fs/promises';\nexport default () => fs;\n", nil, `"node:fs/promises" is a Node.js module`},
		{"req.js", "(s) => require('child_process').execSync(s);\n", nil, `req.js:1:16: "child_process" is a Node.js module`},
		{"reqlocal.js", "(s) => require('./other');\n", nil, "require() is not available"},
		{"missing.js", "import x from './nope.js';\nexport default x;\n", nil, `missing.js:1:15: Could not resolve "./nope.js"`},
	}
	// other.js exists, so require('./other') fails for being require().
	dir := writeFiles(t, map[string]string{"other.js": "module.exports = 1;\n"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BuildSource(tt.name, []byte(tt.src), dir)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %q", err, tt.is)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error = %q, want one line containing %q", msg, tt.want)
			}
		})
	}
}

func TestErrorNamesFileAsGiven(t *testing.T) {
	dir := writeFiles(t, map[string]string{"sub/oops.js": "export default (s) => {"})
	path := filepath.Join(dir, "sub", "oops.js")
	_, err := Build(path)
	if err == nil || !strings.HasPrefix(err.Error(), "bundle: "+path+":1:") {
		t.Errorf("error = %v, want it to start with the path and line", err)
	}
}

func TestTooLarge(t *testing.T) {
	src := "(s) => s;\n//" + strings.Repeat("x", api.MaxBundleBytes) + "\n"
	_, err := BuildSource("big.js", []byte(src), t.TempDir())
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("error = %v, want ErrTooLarge", err)
	}
}

func TestDigest(t *testing.T) {
	files := map[string]string{
		"fn.js":  "import { n } from './n.js';\nexport default () => n;\n",
		"n.js":   "export const n = 7;\n",
		"fn2.js": "(s) => s;\n",
	}
	a, b := writeFiles(t, files), writeFiles(t, files)
	for _, name := range []string{"fn.js", "fn2.js"} {
		x, err := Build(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		y, err := Build(filepath.Join(b, name))
		if err != nil {
			t.Fatal(err)
		}
		if x.Digest != y.Digest {
			t.Errorf("%s: digest differs between directories: %s vs %s", name, x.Digest, y.Digest)
		}
		sum := sha256.Sum256([]byte(x.Script))
		if want := "sha256:" + hex.EncodeToString(sum[:]); x.Digest != want {
			t.Errorf("%s: digest = %s, want %s", name, x.Digest, want)
		}
	}
	x, _ := BuildSource("fn2.js", []byte("(s) => s;\n"), a)
	y, _ := BuildSource("fn2.js", []byte("(s) => s + 1;\n"), a)
	if x.Digest == y.Digest {
		t.Error("different scripts have the same digest")
	}
}

func TestBuildMissingFile(t *testing.T) {
	_, err := Build(filepath.Join(t.TempDir(), "nope.js"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want os.ErrNotExist", err)
	}
}

// TestInputsListEveryFile: `natsfn dev` watches what a bundle was built
// from, imports in subfolders and JSON included.
func TestInputsListEveryFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"greet.ts":         "import { greeting } from './lib/greeting';\nimport cfg from './cfg.json';\nexport default (s: string) => greeting(s) + cfg.x;\n",
		"lib/greeting.ts":  "import { bang } from './deep/bang';\nexport const greeting = (s: string) => 'hello ' + s + bang;\n",
		"lib/deep/bang.ts": "export const bang = '!';\n",
		"cfg.json":         `{"x": 1}`,
		"lib/unused.ts":    "export const no = 1;\n",
	})
	b, err := Build(filepath.Join(dir, "greet.ts"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range []string{"cfg.json", "greet.ts", "lib/deep/bang.ts", "lib/greeting.ts"} {
		want = append(want, filepath.Join(dir, filepath.FromSlash(f)))
	}
	if strings.Join(b.Inputs, "\n") != strings.Join(want, "\n") {
		t.Errorf("Inputs = %q, want %q", b.Inputs, want)
	}
	// A plain script has no imports: the file alone.
	os.WriteFile(filepath.Join(dir, "plain.js"), []byte("(s, p) => 1"), 0o644)
	if b, err := Build(filepath.Join(dir, "plain.js")); err != nil || len(b.Inputs) != 1 || b.Inputs[0] != filepath.Join(dir, "plain.js") {
		t.Errorf("plain script: %q %v", b.Inputs, err)
	}
}
