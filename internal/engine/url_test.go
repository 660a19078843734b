package engine

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// wptResult is what the JS runners below answer: how many cases passed and
// a line for each that did not.
type wptResult struct {
	Pass  int      `json:"pass"`
	Fails []string `json:"fails"`
}

func runWPT(t *testing.T, file, runner string) wptResult {
	t.Helper()
	data, err := os.ReadFile("testdata/wpt/" + file)
	if err != nil {
		t.Fatal(err)
	}
	iso := newIsolate(t, runner, Options{})
	res := invoke(iso, string(data))
	if res.Err != nil {
		t.Fatalf("%v: %s", res.Err, res.Detail)
	}
	var r wptResult
	if err := json.Unmarshal(res.Body, &r); err != nil {
		t.Fatalf("%v: %s", err, res.Body)
	}
	return r
}

// urlKnownFailures are WPT cases the URL parser (whatwg-url v0.6.2) gets
// wrong, by input; each is explained in docs/runtime.md.
var urlKnownFailures = map[string]bool{}

// TestURLWPT runs every case of WPT's urltestdata.json through new URL,
// URL.parse and URL.canParse and compares each component.
func TestURLWPT(t *testing.T) {
	r := runWPT(t, "urltestdata.json", `(s, p) => {
		const props = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
		let pass = 0; const fails = [];
		for (const c of p.json()) {
			if (typeof c === 'string') continue;
			const base = c.base === null ? undefined : c.base;
			let u = null, err = null;
			try { u = new URL(c.input, base); } catch (e) { err = e; }
			const bad = [];
			if (c.failure) {
				if (!(err instanceof TypeError)) bad.push('parsed, want failure');
				if (URL.canParse(c.input, base) || URL.parse(c.input, base) !== null) bad.push('canParse/parse disagree');
			} else if (err) {
				bad.push('threw ' + err);
			} else {
				for (const k of props) if (k in c && u[k] !== c[k]) bad.push(k + ' ' + JSON.stringify(u[k]) + ' want ' + JSON.stringify(c[k]));
				if (c.searchParams !== undefined && u.searchParams.toString() !== c.searchParams) bad.push('searchParams');
				if (!URL.canParse(c.input, base) || URL.parse(c.input, base).href !== c.href) bad.push('canParse/parse disagree');
			}
			if (bad.length) fails.push(JSON.stringify(c.input) + ' base ' + JSON.stringify(c.base) + ': ' + bad.join('; '));
			else pass++;
		}
		return { pass, fails };
	}`)
	checkWPT(t, r, urlKnownFailures)
}

// TestURLSettersWPT runs WPT's setters_tests.json: each setter on each URL.
func TestURLSettersWPT(t *testing.T) {
	r := runWPT(t, "setters_tests.json", `(s, p) => {
		let pass = 0; const fails = [];
		const all = p.json();
		for (const setter of Object.keys(all)) {
			if (setter === 'comment') continue;
			for (const c of all[setter]) {
				const u = new URL(c.href);
				u[setter] = c.new_value;
				const bad = [];
				for (const k of Object.keys(c.expected)) if (u[k] !== c.expected[k]) bad.push(k + ' ' + JSON.stringify(u[k]) + ' want ' + JSON.stringify(c.expected[k]));
				if (bad.length) fails.push(setter + ' ' + JSON.stringify(c.href) + ' = ' + JSON.stringify(c.new_value) + ': ' + bad.join('; '));
				else pass++;
			}
		}
		return { pass, fails };
	}`)
	checkWPT(t, r, urlKnownFailures)
}

func checkWPT(t *testing.T, r wptResult, known map[string]bool) {
	t.Helper()
	t.Logf("%d cases pass, %d fail", r.Pass, len(r.Fails))
	for _, f := range r.Fails {
		input, _, _ := strings.Cut(f, ":")
		if !known[input] {
			t.Errorf("%s", f)
		}
	}
}
