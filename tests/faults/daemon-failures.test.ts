/**
 * A daemon that fails to start gives ONE clear line naming it and its log, exit 1 (2 for
 * an environment error), and the run stops with no leftovers (namespaces, run directory, mounts,
 * processes). Faults, each through `v6pod up` as a user runs it, without touching v6pod's code:
 *   - Kea with an unparsable config: a `kea-dhcp6` earlier on PATH appends garbage to the config
 *     v6pod wrote, then execs the real Kea under its own name (the real parser rejects it);
 *   - radvd's binary missing: PATH holds everything of /usr/sbin but radvd;
 *   - the relay's control socket path taken: a non-empty directory sits where r1's socket goes.
 */
import { expect } from 'chai';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDir } from '../../harness/pod/names.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { leftovers, smallPodFile, v6pod, type CliResult } from './testing.ts';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const PROGRESS = /^\[\d+\.\ds\] /;

/** Processes whose command line names the run's directory (every daemon v6pod starts does). */
function processesOf(runName: string): string[] {
  const dir = `${runDir(runName)}/`;
  const found: string[] = [];
  for (const e of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(dir)) found.push(`${e} ${cmd}`);
    } catch {
      // gone
    }
  }
  return found;
}

/** The one error line of a failed `up` (the rest of stderr is progress lines). */
function errorLines(res: CliResult): string[] {
  return res.stderr.split('\n').filter((l) => l && !PROGRESS.test(l));
}

/** Where `up` keeps a failed run's logs (its run directory is gone with the rollback). */
const keptLogs = (run: string) => join(tmpdir(), `v6pod-${run}-failed`);

describe('a daemon that fails to start: one line naming it and its log, no leftovers', function () {
  this.timeout(90_000);
  const POD = `df${(process.pid % 0xffff).toString(16)}`;
  const podFile = smallPodFile(POD);
  const scratch = mkdtempSync(join(tmpdir(), `${POD}-bin-`));
  const results = new Map<string, { run: string; res: CliResult; log: string }>();

  after(async () => {
    for (const { run } of results.values()) {
      if (existsSync(runDir(run))) await teardownRun(run);
      rmSync(keptLogs(run), { recursive: true, force: true });
    }
    rmSync(scratch, { recursive: true, force: true });
    rmSync(join(podFile, '..'), { recursive: true, force: true });
  });

  async function upFails(key: string, env: NodeJS.ProcessEnv, prepare?: (run: string) => void): Promise<{ run: string; res: CliResult; line: string }> {
    const runName = `${POD}-${key}`;
    prepare?.(runName);
    const res = await v6pod(['up', podFile, '--run', runName], { env, timeoutMs: 60_000 });
    results.set(key, { run: runName, res, log: '' });
    const lines = errorLines(res);
    expect(lines, `stderr of up (exit ${res.status}):\n${res.stderr}`).to.have.length(1);
    expect(await leftovers(runName), 'left behind').to.deep.equal([]);
    expect(processesOf(runName), 'processes of the run').to.deep.equal([]);
    return { run: runName, res, line: lines[0]! };
  }

  it('Kea with an unparsable config: exit 1, the line names kea-dhcp6, its log and what Kea said', async () => {
    const bin = join(scratch, 'kea');
    mkdirSync(bin);
    // Corrupts the config v6pod wrote, then runs the real Kea on it, keeping the name v6pod recorded.
    // The wrapper lingers first: until it execs, the daemon's command line is bash's, and up must
    // not take its own child for dead then (it would name no exit and no reason).
    writeFileSync(join(bin, 'kea-dhcp6'), `#!/bin/bash\nprintf '{ this is not JSON' >> "$2"\nsleep 0.3\nexec -a kea-dhcp6 /usr/sbin/kea-dhcp6 "$@"\n`);
    chmodSync(join(bin, 'kea-dhcp6'), 0o755);
    const { run, res, line } = await upFails('kea', { ...process.env, PATH: `${bin}:${process.env.PATH}` });
    expect(res.status).to.equal(1);
    expect(line, line).to.match(
      new RegExp(`^v6pod: kea-dhcp6 on kea exited( \\(.*\\))?; its log ${escape(keptLogs(run))}/kea-dhcp6\\.(out|log) ends: .*DHCP6_CONFIG_LOAD_FAIL`),
    );
    results.get('kea')!.log = /its log (\S+)/.exec(line)![1]!;
  });

  it("radvd's binary missing: exit 1 (or 2), the line names radvd on r1/r2, its log and the missing binary", async () => {
    const bin = join(scratch, 'sbin-without-radvd');
    mkdirSync(bin);
    for (const f of readdirSync('/usr/sbin')) if (f !== 'radvd') symlinkSync(join('/usr/sbin', f), join(bin, f));
    const path = [bin, ...(process.env.PATH ?? '/usr/bin:/bin').split(':').filter((p) => !/sbin$/.test(p))].join(':');
    const { run, res, line } = await upFails('radvd', { ...process.env, PATH: path });
    expect(res.status).to.be.oneOf([1, 2]);
    expect(line).to.match(new RegExp(`^v6pod: radvd on r[12] .*${escape(keptLogs(run))}/radvd-r[12]\\.log.*radvd.*(No such file|not found)`));
    results.get('radvd')!.log = /(\/\S+radvd-r[12]\.log)/.exec(line)![1]!;
  });

  it("the relay's control socket path taken: exit 1, the line names dhcp6-relay on r1 and its log", async () => {
    const { run, res, line } = await upFails('relay', process.env, (r) => mkdirSync(`${runDir(r)}/relay-r1.sock/taken`, { recursive: true }));
    expect(res.status).to.equal(1);
    expect(line).to.match(new RegExp(`^v6pod: dhcp6-relay on r1 exited.*its log ${escape(keptLogs(run))}/relay-r1\\.log`));
    results.get('relay')!.log = /its log (\S+)/.exec(line)![1]!;
  });

  it("the relay's line says why: the control socket path and the reason", () => {
    const r = results.get('relay');
    expect(r, 'the relay case ran').to.not.equal(undefined);
    const line = errorLines(r!.res)[0] ?? '';
    expect(line).to.match(/relay-r1\.sock.*(is a directory|EISDIR)/i);
  });

  it("the log each line names still exists after the rollback (up keeps a failed run's logs)", () => {
    const named = [...results.values()].map((r) => r.log).filter(Boolean);
    expect(named).to.have.length(3);
    expect(
      named.filter((p) => !existsSync(p)),
      'logs named but gone',
    ).to.deep.equal([]);
  });
});
