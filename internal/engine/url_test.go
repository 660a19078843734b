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

// TestURLSearchParamsWPT runs WPT's application/x-www-form-urlencoded
// parser cases through new URLSearchParams(input).
func TestURLSearchParamsWPT(t *testing.T) {
	r := runWPT(t, "urlencoded-parser.json", `(s, p) => {
		let pass = 0; const fails = [];
		for (const c of p.json()) {
			const got = JSON.stringify([...new URLSearchParams(c.input)]);
			if (got === JSON.stringify(c.output)) pass++;
			else fails.push(JSON.stringify(c.input) + ': ' + got);
		}
		return { pass, fails };
	}`)
	checkWPT(t, r, nil)
}

// TestURLSearchParams checks the rest of the interface and the URL's live
// binding with its searchParams.
func TestURLSearchParams(t *testing.T) {
	src := `() => {
		const out = {};
		const err = (f) => { try { f(); return 'no error'; } catch (e) { return e.name; } };
		out.init = [new URLSearchParams('?a=1&b=2').toString(), new URLSearchParams([['a', '1'], ['b', 'x y']]).toString(),
			new URLSearchParams({ a: 'b c', 'é': '~*' }).toString(), new URLSearchParams(new URLSearchParams('x=1')).toString(),
			err(() => new URLSearchParams([['a']])), err(() => new URLSearchParams([['a', 'b', 'c']])), err(() => new URLSearchParams([1])),
			new URLSearchParams('a=\ud800').get('a')];
		const p = new URLSearchParams('a=1&b=2&a=3&c=4');
		out.ops = [p.size, p.get('a'), p.getAll('a').join(), p.get('z'), p.has('a'), p.has('a', '3'), p.has('a', '9')];
		p.delete('a', '1'); out.afterDeleteValue = p.toString();
		p.delete('a'); out.afterDelete = p.toString();
		p.set('b', 'x'); p.append('b', 'y'); p.set('b', 'z'); out.afterSet = p.toString();
		const sorted = (q) => { const s = new URLSearchParams(q); s.sort(); return [...s.keys()].join('|') + ' ' + [...s.values()].join('|'); };
		out.sort = [sorted('z=b&a=b&z=a&a=a'), sorted('\ufffd=x&\ufffc&\ufffd=a'), sorted('\ufb03&\ud83c\udf08')];
		const seen = []; new URLSearchParams('a=1&b=2').forEach((v, k, o) => seen.push(k + v + (o instanceof URLSearchParams)));
		out.forEach = seen.join();
		out.entries = JSON.stringify([...new URLSearchParams('a=1&b=2').entries()]);
		const u = new URL('https://example.com/path?x=1#h');
		const sp = u.searchParams;
		sp.append('y', 'a b');
		out.live1 = u.href;
		u.search = '?q=%20z';
		out.live2 = [sp.get('q'), u.searchParams === sp];
		sp.delete('q');
		out.live3 = [u.href, u.search];
		u.href = 'http://h/?k=v';
		out.live4 = sp.get('k');
		u.search = '';
		out.live5 = [sp.size, u.href];
		out.setters = (() => { const v = new URL('http://a.example/'); v.port = '8080'; v.pathname = 'a b'; v.hash = 'x'; v.hostname = 'B.example'; v.protocol = 'https'; v.username = 'u@'; return v.href; })();
		out.statics = [URL.canParse('a', 'http://b/'), URL.canParse('a'), URL.parse('x:y').href, URL.parse('nope'), err(() => new URL('http://[::1')), err(() => { new URL('http://a/').href = 'bad'; })];
		out.json = JSON.stringify({ u: new URL('HTTP://A.example:80/a/../b') });
		out.keys = Object.keys(URL.prototype).join();
		return out;
	}`
	iso := newIsolate(t, src, Options{})
	res := invoke(iso, "")
	if res.Err != nil {
		t.Fatalf("%v: %s", res.Err, res.Detail)
	}
	want := `{"init":["a=1&b=2","a=1&b=x+y","a=b+c&%C3%A9=%7E*","x=1","TypeError","TypeError","TypeError","�"],` +
		`"ops":[4,"1","1,3",null,true,true,false],"afterDeleteValue":"b=2&a=3&c=4","afterDelete":"b=2&c=4","afterSet":"b=z&c=4",` +
		`"sort":["a|a|z|z b|a|b|a","￼|�|� |x|a","🌈|ﬃ |"],"forEach":"a1true,b2true","entries":"[[\"a\",\"1\"],[\"b\",\"2\"]]",` +
		`"live1":"https://example.com/path?x=1&y=a+b#h","live2":[" z",true],"live3":["https://example.com/path#h",""],"live4":"v",` +
		`"live5":[0,"http://h/"],"setters":"https://u%40@b.example:8080/a%20b#x",` +
		`"statics":[true,false,"x:y",null,"TypeError","TypeError"],"json":"{\"u\":\"http://a.example/b\"}",` +
		`"keys":"href,origin,protocol,username,password,host,hostname,port,pathname,search,searchParams,hash"}`
	if string(res.Body) != want {
		t.Fatalf("got  %s\nwant %s", res.Body, want)
	}
}

// The parse cache keeps inputs with and without a base apart, whatever
// characters they hold.
func TestURLParseCacheKeys(t *testing.T) {
	iso := newIsolate(t, `() => {
		const out = [];
		for (let i = 0; i < 2; i++) {
			out.push(new URL('x', 'http://a/b/').href, URL.canParse('x'), URL.canParse('\0http://a/'),
				new URL('http://c/\0d').pathname, new URL('y', 'http://a/\0').href);
		}
		for (let i = 0; i < 600; i++) new URL('http://h/' + i, 'http://b' + (i % 300) + '/');
		out.push(new URL('http://h/599', 'http://b299/').href);
		return out;
	}`, Options{})
	res := invoke(iso, "")
	want := `["http://a/b/x",false,true,"/%00d","http://a/y","http://a/b/x",false,true,"/%00d","http://a/y","http://h/599"]`
	if res.Err != nil || string(res.Body) != want {
		t.Fatalf("got %s %v %s, want %s", res.Body, res.Err, res.Detail, want)
	}
}
