package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "echo", "my-fn_2", strings.Repeat("x", 64)} {
		if err := ValidateName("name", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Echo", "a.b", "a b", "ü", "a*", strings.Repeat("x", 65)} {
		if err := ValidateName("name", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestValidateTrigger(t *testing.T) {
	for _, ok := range []string{"echo", "orders.*", "orders.>", "a.*.c", "hello.world"} {
		if err := ValidateTrigger(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ">", "*", "*.x", "$SYS.x", "$SYS", "$JS.API.x", "$KV.b.k", "$O.x", "$NATSFN.v1.x", "_INBOX.x",
		"_R_.>", "_R_.x", "_R_", "_R_.*.y", "_INBOX", "_INBOX.>",
		"a..b", ".a", "a.", "a b", "a.>.b", "a*", "a.b*"} {
		if err := ValidateTrigger(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Subjects reach terminals (ls, info) and other clients: no control
// characters and nothing that is not UTF-8, printable Unicode is fine.
func TestValidateSubjectControlCharacters(t *testing.T) {
	for _, ok := range []string{"ü.x", "orders.日本", "a-b_c"} {
		if err := ValidateSubject(ok, false); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"a\x00b", "a\x1b[2Jb", "a\x1b]0;t\x07", "a\x7f", "a\u0085b", "a\u009bb", "a\xffb", "a\xc3", "a\vb", "a\fb"} {
		if err := ValidateSubject(bad, true); err == nil {
			t.Errorf("%q accepted as a subject", bad)
		}
		if err := ValidateTrigger(bad); err == nil {
			t.Errorf("%q accepted as a trigger", bad)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	good := FunctionSpec{Namespace: "default", Name: "f", Triggers: []string{"f"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*FunctionSpec){
		"no triggers":    func(s *FunctionSpec) { s.Triggers = nil },
		"dup trigger":    func(s *FunctionSpec) { s.Triggers = []string{"a", "a"} },
		"bad namespace":  func(s *FunctionSpec) { s.Namespace = "A" },
		"timeout":        func(s *FunctionSpec) { s.Timeout = Duration(time.Hour) },
		"heap too small": func(s *FunctionSpec) { s.HeapBytes = 1 << 20 },
		"concurrency":    func(s *FunctionSpec) { s.Concurrency = -1 },
		"empty env name": func(s *FunctionSpec) { s.Env = map[string]string{"": "x"} },
	} {
		s := good
		mutate(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	var s FunctionSpec
	if err := json.Unmarshal([]byte(`{"timeout":"1.5s"}`), &s); err != nil || s.Timeout.D() != 1500*time.Millisecond {
		t.Fatalf("%v %v", s.Timeout, err)
	}
	if err := json.Unmarshal([]byte(`{"timeout":5}`), &s); err == nil {
		t.Fatal("a number was accepted as a duration")
	}
	b, _ := json.Marshal(FunctionSpec{Timeout: Duration(2 * time.Second)})
	if !strings.Contains(string(b), `"timeout":"2s"`) {
		t.Fatalf("%s", b)
	}
}

func FuzzValidateTrigger(f *testing.F) {
	for _, s := range []string{"a.b", ">", "$SYS.>", "a.*.>", "_INBOX.x", "..", "a\tb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateTrigger(s) != nil {
			return
		}
		// An accepted trigger never overlaps reserved traffic.
		if IsReserved(s) || strings.HasPrefix(s, "*") || strings.HasPrefix(s, ">") || strings.HasPrefix(s, "$") {
			t.Fatalf("accepted %q", s)
		}
	})
}
