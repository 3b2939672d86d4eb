#!/usr/bin/env node
// Entry point: runs the compiled CLI (dist/<key>/cli/main.js, see bin/dist.js) with source maps, so
// stack traces name the TypeScript lines. It never runs a build of other sources: when the sources
// changed since the last build (or there is none), this run takes the TypeScript sources through
// tsx and a build starts in the background for the next runs (netns/setup.sh, run by ./v6pod and
// npm test, builds before). V6POD_TSX=1 always runs the sources.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { currentBuild } from './dist.js';

let dir;
if (process.env.V6POD_TSX !== '1') {
  const build = currentBuild();
  if (build.complete) dir = build.dir;
  // One background builder at a time; one that cannot write dist/ fails quietly (this run is unaffected).
  else if (!existsSync(build.lock)) {
    spawn(process.execPath, [fileURLToPath(new URL('./dist.js', import.meta.url)), 'build'], { detached: true, stdio: 'ignore' }).unref();
  }
}
if (dir) {
  process.setSourceMapsEnabled(true);
  await import(`${dir}/cli/main.js`);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
