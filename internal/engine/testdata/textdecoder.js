const out = {};
const L = (l) => { try { return new TextDecoder(l).encoding; } catch (e) { return e.name; } };
out.labels = ['latin1', 'ascii', 'ISO-8859-1', ' us-ascii ', 'utf8', 'unicode-1-1-utf-8', 'utf-16', 'utf-16be', 'sjis', 'gb2312', 'x-user-defined', 'replacement', 'iso-2022-kr', 'bogus', 'koi8-r', 'euc-jp', 'big5', 'gb18030', 'iso-2022-jp', 'windows-874', 'macintosh'].map(L);
const d = (l, bytes, o) => { try { return new TextDecoder(l, o).decode(new Uint8Array(bytes)); } catch (e) { return e.name; } };
out.w1252 = d('latin1', [0x80, 0xe9, 0x41]);
out.bom = [d('utf-8', [0xef, 0xbb, 0xbf, 0x41]), d('utf-8', [0xef, 0xbb, 0xbf, 0x41], { ignoreBOM: true }), d('utf-16le', [0xff, 0xfe, 0x41, 0]), d('utf-16be', [0xfe, 0xff, 0, 0x41]), d('utf-16le', [0xff, 0xfe, 0x41, 0], { ignoreBOM: true })];
out.fatal = [d('utf-8', [0xff], { fatal: true }), d('utf-8', [0xe2, 0x82], { fatal: true }), d('utf-16le', [0x00, 0xd8], { fatal: true }), d('utf-16le', [0x41], { fatal: true }), d('shift_jis', [0xa0], { fatal: true })];
out.lossy = [d('utf-8', [0xe2, 0x82, 0x41]), d('utf-8', [0xf0, 0x80, 0x80]), d('utf-8', [0xed, 0xa0, 0x80]), d('utf-8', [0xc0, 0xaf]), d('utf-8', [0xf4, 0x90, 0x80, 0x80]), d('utf-8', [0xe2, 0x82]), d('utf-16le', [0x00, 0xd8, 0x41, 0x00]), d('utf-16le', [0x41, 0x00, 0x42])];
out.legacy = [d('shift_jis', [0x82, 0xa0]), d('gbk', [0xc4, 0xe3]), d('euc-kr', [0xb0, 0xa1]), d('big5', [0xa4, 0x40]), d('koi8-r', [0xc1]), d('x-user-defined', [0x41, 0x80]), d('iso-2022-jp', [0x1b, 0x24, 0x42, 0x24, 0x22, 0x1b, 0x28, 0x42, 0x41]), d('gb18030', [0x81, 0x30, 0x81, 0x30])];
function stream(l, chunks, o) { const td = new TextDecoder(l, o); const r = chunks.map((c) => td.decode(new Uint8Array(c), { stream: true })); r.push(td.decode()); return r; }
out.stream = [
  stream('utf-8', [[0xe2], [0x82, 0xac], [0xf0, 0x9f], [0x98], [0x80, 0x41]]),
  stream('utf-8', [[0xef, 0xbb], [0xbf, 0x41]]),
  stream('utf-8', [[0xe2, 0x82]]),
  stream('utf-16le', [[0x3d], [0xd8, 0x00], [0xde]]),
  stream('utf-16be', [[0xd8, 0x3d, 0xde], [0x00]]),
  stream('shift_jis', [[0x82], [0xa0, 0x41]]),
  stream('gb18030', [[0x81, 0x30], [0x81, 0x30]]),
];
const te = new TextEncoder();
out.into = [te.encodeInto('a😀', new Uint8Array(3)), te.encodeInto('a😀', new Uint8Array(5)), te.encodeInto('é€', new Uint8Array(4)), te.encodeInto('\ud800x', new Uint8Array(8))];
out.dec2 = (() => { const td = new TextDecoder(); td.decode(new Uint8Array([0xe2]), { stream: true }); return td.decode(new Uint8Array([0x41])); })();
out.noarg = new TextDecoder().decode();
out.bad = (() => { try { new TextDecoder().decode('str'); return 'no'; } catch (e) { return e.name; } })();
out.views = [new TextDecoder().decode(new Uint16Array([0x4241])), new TextDecoder().decode(new Uint8Array([0x41, 0x42]).buffer), new TextDecoder().decode(new DataView(new Uint8Array([0x43]).buffer))];
