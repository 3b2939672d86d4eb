#!/usr/bin/env node
// `npm run bench -- NAME` runs bench/NAME.ts; progress goes to stderr, one JSON object is the last stdout line.
import { register } from 'tsx/esm/api';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const name = process.argv[2];
const dir = fileURLToPath(new URL('../bench/', import.meta.url));
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));
if (!name || !existsSync(`${dir}${name}.ts`)) {
  console.error(`bench: unknown benchmark '${name ?? ''}' (available: ${available.join(', ')})`);
  process.exit(2);
}
register();
await import(`../bench/${name}.ts`);
