// `natsfn test` runs the default export of every *.test.ts in a natsfn
// isolate with real host services (a fresh KV bucket each run): a throw
// fails the test.
import hello from './hello';

// payload makes bytes as natsfn hands them to a function.
function payload(text: string): Payload {
  return Object.assign(new TextEncoder().encode(text), {
    text: () => text,
    json: () => JSON.parse(text),
    toJSON: () => text,
  });
}

export default async function () {
  const first = await hello('hello', payload('ann'));
  if (first !== 'hello ann (call 1)') throw new Error(`first call: got ${first}`);
  const second = await hello('hello', payload(''));
  if (second !== 'hello world (call 2)') throw new Error(`second call: got ${second}`);
}
