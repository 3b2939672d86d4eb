/**
 * The compiled CLI (bin/dist.js, bin/v6pod.js) on a copy of the sources: a run without a build of
 * the current sources runs them through tsx and starts the build in the background; once built,
 * runs take dist/<key>/; an edited (or only touched) source makes the build stale, and the next
 * run runs the edit, never the old build; stack traces of compiled code name the .ts lines;
 * V6POD_TSX=1 runs the sources and builds nothing. No root.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const POD = 'fixtures/pods/default.yaml';
const VALIDATE = join('cli', 'validate.ts');

describe('the compiled CLI (dist/, bin/dist.js)', function () {
  this.timeout(600_000);
  let dir: string;

  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [join(dir, 'bin/v6pod.js'), ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
  const check = () => spawnSync(process.execPath, [join(dir, 'bin/dist.js'), 'check']).status;
  const builds = () => (existsSync(join(dir, 'dist')) ? readdirSync(join(dir, 'dist')).filter((d) => /^[0-9a-f]{16}$/.test(d)) : []);
  /** Waits for the background build of the current sources. */
  const built = async () => {
    const deadline = Date.now() + 300_000;
    while (check() !== 0) {
      if (Date.now() > deadline) throw new Error('no build of the current sources after 300 s');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  /** Marks the current build's entry point: a run of the build then ends by writing `[compiled]` on stderr. */
  const mark = () => {
    const current = spawnSync(process.execPath, [join(dir, 'bin/dist.js'), 'build'], { encoding: 'utf8' }).stdout.trim();
    appendFileSync(join(current, 'cli/main.js'), "\nprocess.stderr.write('[compiled]\\n');\n");
  };
  /** Rewrites cli/validate.ts of the copy: the repository's, changed by `edit`. */
  const editValidate = (edit: (text: string) => string) => writeFileSync(join(dir, VALIDATE), edit(readFileSync(join(REPO, VALIDATE), 'utf8')));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'v6pod-dist-'));
    for (const p of ['bin', 'cli', 'harness', 'netns', 'scenarios', 'fixtures/pods', 'package.json', 'package-lock.json', 'tsconfig.json'])
      cpSync(join(REPO, p), join(dir, p), { recursive: true });
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the sources while there is no build, builds in the background, then runs the build', async () => {
    expect(check(), 'no build yet').to.equal(1);
    const r = cli(['validate', POD]);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal(`${POD}: ok (2 hypervisors, 4 instances)\n`);
    await built();
    expect(builds()).to.have.length(1);
    mark();
    const again = cli(['validate', POD]);
    expect(again.stdout).to.equal(`${POD}: ok (2 hypervisors, 4 instances)\n`);
    expect(again.stderr, 'the build ran').to.equal('[compiled]\n');
    expect(cli(['--help']).status).to.equal(0);
    expect(builds(), 'no rebuild for the same sources').to.have.length(1);
  });

  it('an edited source makes the build stale: the next run runs the edit, and so does the next build', async () => {
    const first = builds()[0]!;
    editValidate((t) => t.replace('${file}: ok (', '${file}: fine ('));
    expect(check(), 'stale after the edit').to.equal(1);
    const r = cli(['validate', POD]);
    expect(r.stdout).to.equal(`${POD}: fine (2 hypervisors, 4 instances)\n`);
    expect(r.stderr, 'not the old build').to.equal('');
    await built();
    expect(builds()).to.include(first).and.to.have.length(2);
    mark();
    const again = cli(['validate', POD]);
    expect(again.stdout).to.equal(`${POD}: fine (2 hypervisors, 4 instances)\n`);
    expect(again.stderr).to.equal('[compiled]\n');
  });

  it('a source touched (mtime only) is a new build too: the key never trusts a stale one', async () => {
    const n = builds().length;
    const future = new Date(Date.now() + 60_000);
    utimesSync(join(dir, 'harness/pod/names.ts'), future, future);
    expect(check()).to.equal(1);
    expect(cli(['--help']).stderr, 'not the old build').to.equal('');
    await built();
    expect(builds()).to.have.length(n + 1);
  });

  it('stack traces of the compiled CLI name the TypeScript file and line', async () => {
    editValidate((t) => t.replace(/(\.action\(async \(file: string\) => \{\n)/, "$1      if (file === 'boom') throw new Error('boom');\n"));
    const line =
      readFileSync(join(dir, VALIDATE), 'utf8')
        .split('\n')
        .findIndex((l) => l.includes("new Error('boom')")) + 1;
    expect(line).to.be.above(0);
    cli(['--help']);
    await built();
    mark();
    const r = cli(['validate', 'boom']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include('v6pod: internal error: Error: boom');
    expect(r.stderr).to.include(`${join(dir, VALIDATE)}:${line}:`);
    expect(r.stderr).to.not.match(/dist\/[0-9a-f]{16}\//);
    expect(r.stderr).to.match(/\[compiled\]\n$/);
  });

  it('V6POD_TSX=1 runs the sources through tsx, and builds nothing', async () => {
    editValidate((t) => t.replace('${file}: ok (', '${file}: from the sources ('));
    const n = builds().length;
    const r = cli(['validate', POD], { V6POD_TSX: '1' });
    expect(r.stdout).to.equal(`${POD}: from the sources (2 hypervisors, 4 instances)\n`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(builds()).to.have.length(n);
    expect(check(), 'nothing built').to.equal(1);
  });
});
