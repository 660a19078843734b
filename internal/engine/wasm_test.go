package engine

import "testing"

// wasmAdd is a module exporting add(i32, i32) i32; wasmImport imports
// env.f(i32) i32 and exports g(x) = f(x) + 1.
const wasmHelpers = errHelpers + `
const wasmAdd = new Uint8Array([0,97,115,109,1,0,0,0, 1,7,1,96,2,127,127,1,127, 3,2,1,0, 7,7,1,3,97,100,100,0,0, 10,9,1,7,0,32,0,32,1,106,11]);
const wasmImport = new Uint8Array([0,97,115,109,1,0,0,0, 1,6,1,96,1,127,1,127, 2,9,1,3,101,110,118,1,102,0,0, 3,2,1,0, 7,5,1,1,103,0,1,
  10,11,1,9,0,32,0,16,0,65,1,106,11]);
const wasmErr = async (f) => { try { await f(); return 'no error'; } catch (e) { return e.constructor.name; } };
`

func TestWebAssemblyPromises(t *testing.T) {
	runWebCases(t, []webCase{
		{"validate", wasmHelpers + `return [WebAssembly.validate(wasmAdd), WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 2]))];`, "[true,false]"},
		{"compile", wasmHelpers + `
			const m = await WebAssembly.compile(wasmAdd);
			return [m instanceof WebAssembly.Module, WebAssembly.Module.exports(m)[0].name, new WebAssembly.Instance(m).exports.add(2, 40)];`,
			`[true,"add",42]`},
		{"instantiate bytes", wasmHelpers + `
			const r = await WebAssembly.instantiate(wasmAdd.buffer);
			return [Object.keys(r).sort(), r.module instanceof WebAssembly.Module, r.instance instanceof WebAssembly.Instance, r.instance.exports.add(-1, 1)];`,
			`[["instance","module"],true,true,0]`},
		{"instantiate a module, with imports", wasmHelpers + `
			const m = new WebAssembly.Module(wasmImport);
			const i = await WebAssembly.instantiate(m, { env: { f: (x) => x * 10 } });
			return [i instanceof WebAssembly.Instance, i.exports.g(4)];`, "[true,41]"},
		{"errors reject", wasmHelpers + `
			const p = WebAssembly.compile(new Uint8Array([1, 2, 3]));
			return [p instanceof Promise, await wasmErr(() => p),
				await wasmErr(() => WebAssembly.instantiate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 99]))),
				await wasmErr(() => WebAssembly.instantiate(wasmImport, {})),
				await wasmErr(() => WebAssembly.instantiate(wasmImport, { env: { f: 1 } })),
				await wasmErr(() => WebAssembly.compile('nope'))];`,
			`[true,"CompileError","CompileError","TypeError","LinkError","TypeError"]`},
		{"streaming from a Response", wasmHelpers + `
			const res = () => new Response(wasmAdd, { headers: { 'Content-Type': 'application/wasm' } });
			const m = await WebAssembly.compileStreaming(res());
			const r = await WebAssembly.instantiateStreaming(Promise.resolve(res()));
			return [m instanceof WebAssembly.Module, r.instance.exports.add(3, 4),
				await wasmErr(() => WebAssembly.compileStreaming(new Response(wasmAdd))),
				await wasmErr(() => WebAssembly.compileStreaming(new Response(wasmAdd, { status: 404, headers: { 'Content-Type': 'application/wasm' } }))),
				await wasmErr(() => WebAssembly.instantiateStreaming(wasmAdd))];`,
			`[true,7,"TypeError","TypeError","TypeError"]`},
	}, Options{})
}
