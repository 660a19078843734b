// A natsfn function: it greets the name in the payload and counts its
// calls in the function's own key-value bucket.
export default async function hello(subject: string, payload: Payload): Promise<string> {
  const name = payload.text() || 'world';
  const seen = hostServices.kv.get('calls');
  const calls = (seen ? Number(seen.text()) : 0) + 1;
  hostServices.kv.set('calls', String(calls));
  return `hello ${name} (call ${calls})`;
}
