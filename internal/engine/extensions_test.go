package engine

import "testing"

// The lazy globals behave as data properties to a function: a use runs
// their extension and leaves a plain value; an assignment before any use
// replaces them; the rest of the extension's globals stay lazy until used.
func TestLazyGlobals(t *testing.T) {
	iso := newIsolate(t, `() => {
		const before = typeof Object.getOwnPropertyDescriptor(globalThis, 'Blob').get;
		globalThis.fetch = 'mine';
		const blob = new Blob(['ab']).size;
		const d = Object.getOwnPropertyDescriptor(globalThis, 'Blob');
		return [before, fetch, blob, 'value' in d && d.writable && d.configurable && !d.enumerable, typeof File, typeof Request];
	}`, Options{})
	res := invoke(iso, "")
	if want := `["function","mine",2,true,"function","function"]`; res.Err != nil || string(res.Body) != want {
		t.Fatalf("got %s %v %s, want %s", res.Body, res.Err, res.Detail, want)
	}
}

// Every lazy extension's header names the globals it defines, so that a
// use of each runs it.
func TestLazyHeadersNameTheirGlobals(t *testing.T) {
	list, err := loadExtensions()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if len(e.globals) == 0 {
			continue
		}
		iso := newIsolate(t, `(s) => {
			const names = s.split(' '), desc = (g) => Object.getOwnPropertyDescriptor(globalThis, g);
			const before = names.every((g) => desc(g) !== undefined && 'get' in desc(g));
			void globalThis[names[0]];
			const after = names.every((g) => desc(g) !== undefined && 'value' in desc(g) && desc(g).value !== undefined);
			return [before, after];
		}`, Options{})
		names := ""
		for k, g := range e.globals {
			if k > 0 {
				names += " "
			}
			names += g
		}
		if res := call(iso, names, ""); res.Err != nil || string(res.Body) != "[true,true]" {
			t.Errorf("%s: globals %q: %s %v %s", e.name, names, res.Body, res.Err, res.Detail)
		}
	}
}
