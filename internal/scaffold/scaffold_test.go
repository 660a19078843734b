package scaffold

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/internal/engine"
)

// TestTypesNameEveryHostService keeps the declarations in step with the
// runtime: every method of hostServices (and so of hostServices.promises,
// which has the same) that a function finds is declared.
func TestTypesNameEveryHostService(t *testing.T) {
	p, err := engine.Compile("list.js", `() => Object.fromEntries(
		['http', 'kv', 'objectStore', 'messaging'].map((s) => [s, Object.keys(hostServices[s])]))`)
	if err != nil {
		t.Fatal(err)
	}
	iso, err := engine.NewIsolate(p, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer iso.Dispose()
	res := iso.Invoke(context.Background(), &engine.Invocation{Subject: "list"})
	if res.Err != nil {
		t.Fatalf("%v: %s", res.Err, res.Detail)
	}
	var services map[string][]string
	if err := json.Unmarshal(res.Body, &services); err != nil {
		t.Fatal(err)
	}
	dts := string(Types())
	iface := map[string]string{"kv": "KV", "objectStore": "ObjectStore", "messaging": "Messaging", "http": "Http"}
	for name, methods := range services {
		decl := regexp.MustCompile(`(?s)interface ` + iface[name] + ` \{(.*?)\n\}`).FindStringSubmatch(dts)
		if decl == nil {
			t.Errorf("natsfn.d.ts has no interface %s for hostServices.%s", iface[name], name)
			continue
		}
		if len(methods) == 0 {
			t.Errorf("hostServices.%s has no methods", name)
		}
		for _, m := range methods {
			if !regexp.MustCompile(`(?m)^  ` + m + `\(`).MatchString(decl[1]) {
				t.Errorf("natsfn.d.ts does not declare hostServices.%s.%s", name, m)
			}
		}
	}
	for _, name := range []string{"hostServices", "env"} {
		if !strings.Contains(dts, "declare const "+name+":") {
			t.Errorf("natsfn.d.ts does not declare %s", name)
		}
	}
	if !strings.Contains(dts, "readonly promises:") {
		t.Error("natsfn.d.ts does not declare hostServices.promises")
	}
}

func TestWriteProject(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	files, err := WriteProject(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"README.md", "hello.test.ts", "hello.ts", TypesFile, "natsfn.json", "tsconfig.json"} {
		if !slices.Contains(files, want) {
			t.Errorf("no %s in %q", want, files)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, TypesFile)); err != nil || string(b) != string(Types()) {
		t.Errorf("%s differs from Types(): %v", TypesFile, err)
	}
	os.WriteFile(filepath.Join(dir, "hello.ts"), []byte("mine"), 0o644)
	if _, err := WriteProject(dir, false); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("a second write: %v, want ErrNotEmpty", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "hello.ts")); string(b) != "mine" {
		t.Errorf("a refused write changed hello.ts")
	}
	if _, err := WriteProject(dir, true); err != nil {
		t.Errorf("--force: %v", err)
	}
}
