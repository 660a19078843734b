// An ES module in TypeScript: bundled with esbuild at deploy time.
import { greeting } from './lib/greeting';

export default function (subject: string, payload: Uint8Array & { text(): string }) {
  console.log('greeting', payload.text());
  return greeting(payload.text() || 'world');
}
