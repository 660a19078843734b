package scaffold

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestTypesNameEveryHostService keeps the declarations in step with the
// prelude: every method of hostServices it defines is declared.
func TestTypesNameEveryHostService(t *testing.T) {
	prelude, err := os.ReadFile(filepath.Join("..", "engine", "prelude.js"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(prelude)
	dts := string(Types())
	// Each service is `const NAME = freeze({ method(...) {...}, ... });`.
	services := regexp.MustCompile(`(?s)const (kv|objectStore|messaging|http) = freeze\(\{(.*?)\n  \}\);`).FindAllStringSubmatch(src, -1)
	if len(services) != 4 {
		t.Fatalf("found %d services in the prelude, want 4: has its layout changed?", len(services))
	}
	method := regexp.MustCompile(`(?m)^    (\w+)\(`)
	iface := map[string]string{"kv": "KV", "objectStore": "ObjectStore", "messaging": "Messaging", "http": "Http"}
	for _, s := range services {
		decl := regexp.MustCompile(`(?s)interface ` + iface[s[1]] + ` \{(.*?)\n\}`).FindStringSubmatch(dts)
		if decl == nil {
			t.Errorf("natsfn.d.ts has no interface %s for hostServices.%s", iface[s[1]], s[1])
			continue
		}
		methods := method.FindAllStringSubmatch(s[2], -1)
		if len(methods) == 0 {
			t.Errorf("no methods found for %s in the prelude", s[1])
		}
		for _, m := range methods {
			if !regexp.MustCompile(`(?m)^  ` + m[1] + `\(`).MatchString(decl[1]) {
				t.Errorf("natsfn.d.ts does not declare hostServices.%s.%s", s[1], m[1])
			}
		}
	}
	for _, name := range []string{"hostServices", "env"} {
		if !strings.Contains(dts, "declare const "+name+":") {
			t.Errorf("natsfn.d.ts does not declare %s", name)
		}
		if !strings.Contains(src, "define('"+name+"'") {
			t.Errorf("the prelude no longer defines %s", name)
		}
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
