/**
 * The compiled CLI (bin/dist.js, bin/v6pod.js) on a copy of the sources: the first run builds
 * dist/<key>/ and runs it; an edited source makes the build stale and the next run runs the edit,
 * never the old build; stack traces name the .ts lines; V6POD_TSX=1 runs the sources. No root.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

describe('the compiled CLI (dist/, bin/dist.js)', function () {
  this.timeout(300_000);
  let dir: string;

  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [join(dir, 'bin/v6pod.js'), ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
  const check = () => spawnSync(process.execPath, [join(dir, 'bin/dist.js'), 'check']).status;
  const builds = () => (existsSync(join(dir, 'dist')) ? readdirSync(join(dir, 'dist')).filter((d) => /^[0-9a-f]{16}$/.test(d)) : []);
  const validate = join('cli', 'validate.ts');
  /** Rewrites cli/validate.ts of the copy, its summary line changed by `edit`. */
  const editValidate = (edit: (text: string) => string) => {
    const path = join(dir, validate);
    writeFileSync(path, edit(readFileSync(join(REPO, validate), 'utf8')));
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'v6pod-dist-'));
    for (const p of ['bin', 'cli', 'harness', 'netns', 'scenarios', 'fixtures/pods', 'package.json', 'package-lock.json', 'tsconfig.json'])
      cpSync(join(REPO, p), join(dir, p), { recursive: true });
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('builds on the first run and runs the build; the next run reuses it', () => {
    expect(check(), 'no build yet').to.equal(1);
    const r = cli(['validate', 'fixtures/pods/default.yaml']);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal('fixtures/pods/default.yaml: ok (2 hypervisors, 4 instances)\n');
    expect(builds()).to.have.length(1);
    expect(existsSync(join(dir, 'dist', builds()[0]!, 'cli/main.js'))).to.equal(true);
    expect(check(), 'fresh after the run').to.equal(0);
    expect(cli(['--help']).status).to.equal(0);
    expect(builds(), 'no rebuild for the same sources').to.have.length(1);
  });

  it('an edited source makes the build stale, and the next run runs the edit', () => {
    const first = builds()[0]!;
    editValidate((t) => t.replace('${file}: ok (', '${file}: fine ('));
    expect(check(), 'stale after the edit').to.equal(1);
    const r = cli(['validate', 'fixtures/pods/default.yaml']);
    expect(r.stdout).to.equal('fixtures/pods/default.yaml: fine (2 hypervisors, 4 instances)\n');
    expect(builds()).to.include(first).and.to.have.length(2);
    expect(check()).to.equal(0);
  });

  it('a source touched (mtime only) is a new build too: the key never trusts a stale one', () => {
    const n = builds().length;
    const future = new Date(Date.now() + 60_000);
    utimesSync(join(dir, 'harness/pod/names.ts'), future, future);
    expect(check()).to.equal(1);
    expect(cli(['--help']).status).to.equal(0);
    expect(builds()).to.have.length(n + 1);
  });

  it('stack traces of the compiled CLI name the TypeScript file and line', () => {
    editValidate((t) => t.replace(/(\.action\(async \(file: string\) => \{\n)/, "$1      if (file === 'boom') throw new Error('boom');\n"));
    const line =
      readFileSync(join(dir, validate), 'utf8')
        .split('\n')
        .findIndex((l) => l.includes("new Error('boom')")) + 1;
    const r = cli(['validate', 'boom']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include('v6pod: internal error: Error: boom');
    expect(r.stderr).to.include(`${join(dir, validate)}:${line}:`);
    expect(r.stderr).to.not.match(/dist\/[0-9a-f]{16}\//);
  });

  it('V6POD_TSX=1 runs the sources through tsx, without a build', () => {
    editValidate((t) => t.replace('${file}: ok (', '${file}: from the sources ('));
    const n = builds().length;
    const r = cli(['validate', 'fixtures/pods/default.yaml'], { V6POD_TSX: '1' });
    expect(r.stdout).to.equal('fixtures/pods/default.yaml: from the sources (2 hypervisors, 4 instances)\n');
    expect(builds()).to.have.length(n);
  });
});
