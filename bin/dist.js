// The compiled form of v6pod: esbuild bundles cli/main.ts, the daemons, agents and scenarios (every
// non-test .ts under cli/, harness/, netns/, scenarios/ is an entry point, shared code goes into
// chunks, so one module is one instance whoever loads it) with the npm packages, into
// dist/<key>/ with source maps. <key> names the state of the inputs: every source file's path,
// size and mtime, this file, tsconfig.json, package-lock.json and the checkout's path. A build is
// complete once dist/<key>/.complete exists, so stale code never runs: edit a source and the key
// changes. Checking costs one stat per source file, no reads.
//
//   node bin/dist.js build     build the current sources unless built already (prints the dir)
//   node bin/dist.js check     exit 0 when the current sources are built, 1 when not
//
// Paths: each compiled module keeps its source's import.meta.url (replaced, same length, by a call
// that returns the .ts file's URL), so `new URL('../../fixtures/x', import.meta.url)` names the same
// file compiled or not. Code that spawns or imports a TypeScript file by path asks
// harness/os/runnable.ts for the file to run (the build defines __V6POD_BUILD__ for it).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
/** The folders compiled: everything the CLI, its daemons, agents and scenarios load. */
export const SOURCE_DIRS = ['cli', 'harness', 'netns', 'scenarios'];
/** Inputs besides the sources: a change to any of them is a new build. */
const OTHER_INPUTS = ['bin/dist.js', 'harness/pod/pod-schema.validator.js', 'tsconfig.json', 'package-lock.json'];
/** npm packages left out of the bundles: native addons, mocha (loads scenario files by path), optional ones. */
const EXTERNAL = ['cap', 'raw-socket', 'mocha', 'pg-native', '*.node'];
/** Builds kept besides the current one (a pod's daemons may still run an older build's files). */
const KEEP = 3;
const COMPLETE = '.complete';
/** How long a CLI waits for another process's build of the same sources. */
const LOCK_WAIT_MS = 120_000;
/** Same length as `import.meta.url`, so the source maps' columns hold. */
const SOURCE_URL_CALL = '__v6pod_srcurl()';

/** The .ts files compiled, relative to the repository (unit tests excluded: they run under tsx). */
export function sourceFiles(repo = REPO) {
  const files = [];
  const walk = (rel) => {
    for (const e of readdirSync(join(repo, rel), { withFileTypes: true })) {
      const path = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) files.push(path);
    }
  };
  for (const dir of SOURCE_DIRS) walk(dir);
  return files.sort();
}

/** The key of the inputs' current state: one stat per file, no reads. */
export function sourceKey(repo = REPO) {
  const h = createHash('sha256').update(`${repo}\n${process.version}\n`);
  for (const f of [...sourceFiles(repo), ...OTHER_INPUTS]) {
    const s = statSync(join(repo, f), { bigint: true, throwIfNoEntry: false });
    h.update(`${f}\0${s ? `${s.size}\0${s.mtimeNs}` : 'missing'}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

/** The build of the current sources: its dir, whether it is complete, and the lock a build of it holds while it runs. */
export function currentBuild(repo = REPO) {
  const dir = join(repo, 'dist', sourceKey(repo));
  return { dir, complete: existsSync(join(dir, COMPLETE)), lock: `${dir}.lock` };
}

/** dist/<key>/ when the current sources are built, else undefined. */
export function freshBuild(repo = REPO) {
  const { dir, complete } = currentBuild(repo);
  return complete ? dir : undefined;
}

/** esbuild, from where tsx (which depends on it) finds it. */
async function esbuild(repo) {
  const fromTsx = createRequire(createRequire(join(repo, 'package.json')).resolve('tsx/package.json'));
  return import(pathToFileURL(fromTsx.resolve('esbuild')).href);
}

/** Builds the current sources into dist/<key>/ (nothing to do when built already); returns the dir. */
export async function build(repo = REPO) {
  const key = sourceKey(repo);
  const dist = join(repo, 'dist');
  const dir = join(dist, key);
  if (existsSync(join(dir, COMPLETE))) return dir;
  mkdirSync(dist, { recursive: true });
  // One builder per key: the others wait for its build (the CLI started many times at once after an edit).
  const lock = `${dir}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (!take(lock)) {
    if (existsSync(join(dir, COMPLETE))) return dir;
    if (Date.now() > deadline) throw new Error(`waited ${LOCK_WAIT_MS / 1000} s for the build in ${lock}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  try {
    if (!existsSync(join(dir, COMPLETE))) await compile(repo, dir);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  prune(dist, dir);
  return dir;
}

/** Takes the build lock (a directory holding the builder's PID); a dead builder's lock is taken over. */
function take(lock) {
  try {
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), String(process.pid));
    return true;
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
  }
  let owner = 0;
  try {
    owner = Number(readFileSync(join(lock, 'pid'), 'utf8')) || 0;
  } catch {
    // not written yet, or the lock is gone already
  }
  const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
  // A PID that is gone, or no PID long after the lock was made: its builder died.
  if ((owner && !alive(owner)) || (!owner && Date.now() - since > 10_000)) rmSync(lock, { recursive: true, force: true });
  return false;
}

/** esbuild's bundles of every source file into `dir`, through a temp dir renamed into place. */
async function compile(repo, dir) {
  const { build: bundle } = await esbuild(repo);
  // Built beside the final dir and renamed into place: nobody sees half a build.
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  await bundle({
    absWorkingDir: repo,
    entryPoints: sourceFiles(repo),
    outbase: '.',
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: 'linked',
    // Stack traces need the mappings only: without the sources' text the maps Node parses as each
    // bundle loads are a fraction of the size (the CLI's start, docs/facts.md).
    sourcesContent: false,
    chunkNames: 'chunks/[name]-[hash]',
    external: EXTERNAL,
    logLevel: 'error',
    // Bundled CommonJS packages call require(): give every output file one.
    banner: { js: "import { createRequire as __v6pod_createRequire } from 'node:module'; const require = __v6pod_createRequire(import.meta.url);" },
    define: { __V6POD_BUILD__: JSON.stringify({ repo, dir }) },
    plugins: [
      {
        name: 'v6pod-source-url',
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, ({ path }) => {
            if (!path.startsWith(`${repo}/`) || path.includes('/node_modules/')) return undefined;
            const text = readFileSync(path, 'utf8');
            const fn = `\nfunction ${SOURCE_URL_CALL} { return ${JSON.stringify(pathToFileURL(path).href)}; }\n`;
            return { loader: 'ts', contents: text.includes('import.meta.url') ? text.replaceAll('import.meta.url', SOURCE_URL_CALL) + fn : text };
          });
        },
      },
    ],
  });
  writeFileSync(join(tmp, COMPLETE), `${new Date().toISOString()}\n`);
  renameSync(tmp, dir);
}

/** Removes all but the newest KEEP builds besides `current`, and what dead builders left. */
function prune(dist, current) {
  const entries = readdirSync(dist, { withFileTypes: true })
    .filter((e) => e.isDirectory() && join(dist, e.name) !== current)
    .map((e) => ({ path: join(dist, e.name), name: e.name, mtime: statSync(join(dist, e.name)).mtimeMs }));
  for (const e of entries) {
    const pid = /\.tmp-(\d+)$/.exec(e.name)?.[1];
    if (pid && !alive(Number(pid))) rmSync(e.path, { recursive: true, force: true });
  }
  const builds = entries.filter((e) => /^[0-9a-f]{16}$/.test(e.name)).sort((a, b) => b.mtime - a.mtime);
  for (const b of builds.slice(KEEP)) rmSync(b.path, { recursive: true, force: true });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const verb = process.argv[2];
  if (verb === 'build') {
    const started = Date.now();
    const fresh = freshBuild();
    const built = fresh ?? (await build());
    if (!fresh) process.stderr.write(`dist: built ${built} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    process.stdout.write(`${built}\n`);
  } else if (verb === 'check') {
    process.exitCode = freshBuild() ? 0 : 1;
  } else {
    process.stderr.write('usage: node bin/dist.js build|check\n');
    process.exitCode = 2;
  }
}
