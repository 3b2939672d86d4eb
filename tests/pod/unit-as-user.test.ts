/**
 * `npm run unit` needs no root and builds no pod: run as an unprivileged user (nobody, every
 * capability dropped), it passes, and no network namespace appears while it runs.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runOfNamespace } from '../../harness/pod/names.ts';
import { readState } from '../../netns/run-state.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'];

/** The processes alive now. */
function pids(): Set<number> {
  return new Set(
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number),
  );
}

/** A namespace of a run owned by a process that was already alive: someone else's pod, brought up meanwhile on this machine. */
function othersPod(ns: string, alive: ReadonlySet<number>): boolean {
  const run = runOfNamespace(ns);
  const owner = run ? readState(run)?.owner : undefined;
  return typeof owner === 'number' && alive.has(owner);
}

function namedNamespaces(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

describe('unit tests as a plain user', function () {
  this.timeout(180_000);
  let home: string;

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    const readable = spawnSync('setpriv', [...NOBODY, 'test', '-r', `${REPO}package.json`]);
    // The checkout must be readable by others (a clone with the usual umask is).
    expect(readable.status, `user nobody cannot read ${REPO}package.json`).to.equal(0);
    home = mkdtempSync(`${tmpdir()}/v6pod-unit-user-`);
    chmodSync(home, 0o777);
  });

  after(() => rmSync(home, { recursive: true, force: true }));

  it('`npm run unit` passes as nobody and creates no network namespace', () => {
    const before = new Set(namedNamespaces());
    const alive = pids();
    const r = spawnSync('setpriv', [...NOBODY, 'env', `HOME=${home}`, `npm_config_cache=${home}/npm`, 'npm', 'run', '--silent', 'unit'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 170_000,
    });
    const created = namedNamespaces().filter((n) => !before.has(n) && !othersPod(n, alive));
    expect(r.status, `npm run unit as nobody exited ${r.status}:\n${r.stdout.slice(-3000)}${r.stderr.slice(-2000)}`).to.equal(0);
    expect(r.stdout).to.match(/^\d+ passed, 0 failed/m);
    expect(created, 'network namespaces created during the unit run').to.deep.equal([]);
  });
});
