/**
 * Every verb as nobody on one rootless run: up, status (in rootless mode), exec, capture, vm
 * deploy/show/destroy, down; the keeper holds the namespaces while the run exists and exits with
 * it. What cannot run rootless (a private PostgreSQL cluster) is one line naming the alternative,
 * with nothing left. Root's own namespaces are out of the user's reach: `down --all` as nobody
 * leaves a decoy root namespace with the v6pod prefix alone. `--rootless` gives root the same mode.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { asUser, CLI, hostView, REPO, spawnAsUser, stateOf, userHome, userLeftovers } from './testing.ts';

const RUN = `rl${process.pid % 100_000}`;

describe('rootless: every verb as nobody', function () {
  this.timeout(180_000);
  let home: string;
  const decoy = `v6p-rldecoy${process.pid % 100_000}.n1`;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    home = userHome('rootless-verbs');
    await run(['ip', 'netns', 'add', decoy]);
  });

  after(async () => {
    if (!home) return;
    asUser(home, ['down', '--all']);
    rmSync(home, { recursive: true, force: true });
    await run(['ip', 'netns', 'del', decoy], { allowFailure: true });
  });

  const ok = (args: string[], timeoutMs?: number) => {
    const r = asUser(home, args, timeoutMs);
    expect(r.status, `v6pod ${args.join(' ')} as nobody exited ${r.status}:\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`).to.equal(0);
    return r.stdout;
  };

  it('up, status, exec, capture, vm deploy/show/destroy and down work, and the keeper exits with the last run', async () => {
    const hostBefore = await hostView();
    expect(ok(['up', '--run', RUN], 90_000)).to.match(new RegExp(`^up: run ${RUN}, 11 nodes, 4 instances ready`, 'm'));
    const keeper = Number(readFileSync(`${stateOf(home)}/keeper.pid`, 'utf8'));
    expect(readFileSync(`/proc/${keeper}/cmdline`, 'utf8').split('\0')[0]).to.equal('v6pod-keeper');

    const status = ok(['status']);
    expect(status.split('\n')[1]).to.equal(`mode rootless (user namespace held by keeper PID ${keeper}, state in ${stateOf(home)})`);
    const json = JSON.parse(ok(['status', '--run', RUN, '--json'])) as { verdict: string; mode: { mode: string; keeper: number } };
    expect(json.verdict).to.equal('ok');
    expect(json.mode).to.deep.include({ mode: 'rootless', keeper });

    expect(ok(['exec', 'vm1', '--', 'ip', '-6', '-br', 'addr', 'show', 'dev', 'eth0'])).to.include('2001:db8:100:0:47a:88ff:fe00:8b/64');

    // A capture of vm1's echo requests to r1, while vm1 pings it.
    const pcap = `${home}/echo.pcap`;
    const capture = spawnAsUser(home, ['capture', 'r1', 'lan', '-c', '2', '--filter', 'icmp6 and ip6[40] == 128', '-w', pcap]);
    let err = '';
    capture.stderr.on('data', (b: Buffer) => (err += b.toString()));
    await waitUntil(() => err.includes('Capturing on') || capture.exitCode !== null, { timeoutMs: 30_000, what: 'the capture to start' });
    ok(['exec', 'vm1', '--', 'ping', '-c', '3', '-i', '0.2', '2001:db8:100::1']);
    const code = await new Promise<number | null>((resolve) => (capture.exitCode !== null ? resolve(capture.exitCode) : capture.on('exit', resolve)));
    expect(code, err).to.equal(0);
    expect(err).to.include(`capture: 2 frames written to ${pcap}`);

    expect(ok(['vm', 'deploy', 'vm9', '--prefixes', '2'])).to.match(/^deployed namespace instance vm9 on hv\d:vnet\d+/);
    const shown = JSON.parse(ok(['vm', 'show', 'vm9', '--json'])) as { prefixes: string[] };
    expect(shown.prefixes).to.have.length(2);
    expect(ok(['vm', 'destroy', 'vm9'])).to.match(/^destroyed vm9/);

    // Nothing of the pod is in the host's network namespace while it runs.
    const hostDuring = await hostView();
    expect(hostDuring.links).to.equal(hostBefore.links);
    expect(hostDuring.namespaces.filter((ns) => ns.startsWith(`v6p-${RUN}.`))).to.deep.equal([]);

    expect(ok(['down'])).to.match(new RegExp(`^down: run ${RUN}: 5 daemons stopped, 11 namespaces removed$`, 'm'));
    expect(userLeftovers(home)).to.deep.equal([]);
  });

  it("down --all as nobody sees only nobody's runs: a root namespace with the v6pod prefix stays", async () => {
    expect(ok(['down', '--all'])).to.equal('down: nothing to remove\n');
    expect((await run(['ip', 'netns', 'list'])).stdout).to.include(decoy);
    expect(userLeftovers(home)).to.deep.equal([]);
  });

  it('with no run, status, exec, capture and vm say so in one line (exit 2) without starting a keeper', () => {
    // A user who never brought a pod up: a keeper, once started, leaves its log in the state directory.
    const fresh = userHome('rootless-norun');
    try {
      for (const args of [['status'], ['exec', 'vm1', '--', 'true'], ['capture', 'r1', 'lan', '-c', '1'], ['vm', 'show', 'vm1']]) {
        const r = asUser(fresh, args);
        expect([r.status, r.stderr], `v6pod ${args.join(' ')}`).to.deep.equal([2, 'v6pod: no pod is up (v6pod up FILE)\n']);
      }
      expect(existsSync(`${stateOf(fresh)}/keeper.log`), 'a keeper was started').to.equal(false);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('a private PostgreSQL cluster: one line naming kea.database, exit 2, nothing left', () => {
    const file = `${home}/pg.yaml`; // readable by nobody
    const pod = readFileSync(`${REPO}fixtures/pods/default.yaml`, 'utf8').replace('backend: config', 'backend: postgresql');
    writeFileSync(file, pod);
    try {
      const r = asUser(home, ['up', file, '--run', `${RUN}pg`]);
      expect(r.status).to.equal(2);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(r.stderr).to.match(/^v6pod: kea.backend postgresql: a private PostgreSQL cluster cannot run in a rootless pod .*set kea.database/);
      expect(userLeftovers(home)).to.deep.equal([]);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('--rootless gives root the same mode, in its own state directory, never in the host namespace', async () => {
    const rootHome = mkdtempSync(`${tmpdir()}/v6pod-rl-root-`);
    const env = { PATH: process.env.PATH, HOME: rootHome };
    const v6pod = (args: string[]) => spawnSync('node', [CLI, ...args], { cwd: REPO, encoding: 'utf8', env, timeout: 90_000 });
    try {
      const up = v6pod(['--rootless', 'up', '--run', `${RUN}r`]);
      expect(up.status, up.stderr).to.equal(0);
      const status = v6pod(['status', '--rootless', '--run', `${RUN}r`]);
      expect(status.stdout.split('\n')[1]).to.match(/^mode rootless \(user namespace held by keeper PID \d+/);
      expect((await run(['ip', 'netns', 'list'])).stdout).not.to.include(`v6p-${RUN}r.`);
      expect(existsSync(`/run/v6pod/${RUN}r`)).to.equal(false);
      const down = v6pod(['--rootless', 'down']);
      expect(down.status, down.stderr).to.equal(0);
      expect(existsSync(`${rootHome}/.local/state/v6pod/keeper.pid`), 'the keeper is still recorded').to.equal(false);
    } finally {
      v6pod(['--rootless', 'down', '--all']);
      rmSync(rootHome, { recursive: true, force: true });
    }
  });
});
