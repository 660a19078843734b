export function greeting(name: string): string {
  return `Hello, ${name}! (from ${env.REGION ?? 'nowhere'})`;
}

declare const env: Record<string, string | undefined>;
