#!/usr/bin/env node
// Entry point: runs the compiled CLI (dist/<key>/cli/main.js, see bin/dist.js) with source maps, so
// stack traces name the TypeScript lines. When the sources changed since the last build it builds
// first; it never runs a build of other sources. V6POD_TSX=1, or a build that fails (e.g. a
// read-only checkout), runs the TypeScript sources through tsx instead.
import { build, freshBuild } from './dist.js';

let dir;
if (process.env.V6POD_TSX !== '1') {
  try {
    dir = freshBuild() ?? (await build());
  } catch (err) {
    // A checkout this user may not write to runs from its sources, silently; any other failure says why.
    if (!['EACCES', 'EPERM', 'EROFS'].includes(err?.code)) {
      process.stderr.write(`v6pod: running the TypeScript sources (the build failed: ${String(err?.message ?? err).split('\n')[0]})\n`);
    }
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
