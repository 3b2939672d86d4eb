/**
 * The runnable form of a TypeScript source file, for code that spawns one as a process (daemons,
 * agents, helpers in namespaces) or imports one by path (scenarios). Run from the sources (tests,
 * under tsx), that is the .ts file itself, loaded through tsx; run compiled (`bin/v6pod.js` runs
 * the build in dist/, see bin/dist.js), it is the same file's compiled .js of the same build, with
 * source maps, so a daemon never runs other code than the process that started it.
 */
import { relative } from 'node:path';

/** Defined by the build (bin/dist.js) as `{ repo, dir }`; undeclared when running the sources. */
declare const __V6POD_BUILD__: { repo: string; dir: string } | undefined;

const BUILD = typeof __V6POD_BUILD__ === 'object' ? __V6POD_BUILD__ : undefined;

/**
 * tsx's loader, as an absolute URL (a child must not depend on its working directory). Resolved at
 * the top level: tsx gives modules it loads through require() an import.meta.resolve only there.
 */
const TSX_LOADER = BUILD ? undefined : import.meta.resolve('tsx');

/** The file to load for the TypeScript source `source` (an absolute path): its compiled .js when this code runs compiled. */
export function runnableFile(source: string): string {
  if (!BUILD || !source.endsWith('.ts')) return source;
  const rel = relative(BUILD.repo, source);
  if (rel.startsWith('..')) throw new Error(`${source} is outside the build of ${BUILD.repo}`);
  return `${BUILD.dir}/${rel.slice(0, -'.ts'.length)}.js`;
}

/** The node flags that run a source file: source maps for compiled code (stack traces name the .ts lines), tsx's loader for the sources. */
export function nodeFlags(): string[] {
  return TSX_LOADER === undefined ? ['--enable-source-maps'] : ['--import', TSX_LOADER];
}

/** The argv that runs the TypeScript source `source` with this process's node: `[node, …flags, file]`. */
export function nodeArgv(source: string): string[] {
  return [process.execPath, ...nodeFlags(), runnableFile(source)];
}
