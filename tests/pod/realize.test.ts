/**
 * The pod realized for real (namespaces, veths, radvd, Kea, kernel SLAAC): inventory, readiness,
 * re-running `up`, teardown without leftovers, crash recovery with `down --all`, and the decoys
 * v6pod must never touch.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPodFile, parsePodFile, DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { sweepableRuns, teardownRun, v6podNamespaces } from '../../netns/teardown.ts';
import { runDir, uniqueRunName } from '../../harness/pod/names.ts';
import { readState } from '../../netns/run-state.ts';
import { daemonAlive } from '../../netns/daemons/process.ts';
import { observeInstances } from '../../netns/observe.ts';
import { ipJson, run } from '../../harness/os/exec.ts';
import { slaacAddress } from '../../harness/addr/slaac.ts';
import { waitUntil } from '../../harness/os/wait.ts';

const CLI = new URL('../../bin/v6pod.js', import.meta.url).pathname;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('pod realization (real namespaces, radvd, Kea)', function () {
  this.timeout(60_000);

  describe('the default pod', () => {
    const pod = loadPodFile(DEFAULT_POD_FILE);
    const runName = uniqueRunName('rt');
    let daemonsPids: number[] = [];

    after(() => teardownRun(runName));

    it('comes up ready: every node a namespace, every link in place, daemons running', async () => {
      const { plan, reused } = await up(pod, runName, { podFile: DEFAULT_POD_FILE, owner: process.pid });
      expect(reused).to.equal(false);
      expect([...(v6podNamespaces().get(runName) ?? [])].sort()).to.deep.equal(plan.nodes.map((n) => n.ns).sort());
      for (const l of plan.links) {
        const [a] = await ipJson<Array<{ ifname: string; address: string; operstate: string }>>(plan.nodes.find((n) => n.name === l.a.node)!.ns, [
          'link',
          'show',
          'dev',
          l.a.ifname,
        ]);
        expect(a, `${l.a.node}:${l.a.ifname}`).to.include({ ifname: l.a.ifname, address: l.a.mac });
      }
      const state = readState(runName)!;
      expect(state.phase).to.equal('ready');
      expect(state.daemons.map((d) => `${d.name}@${d.node}`).sort()).to.deep.equal([
        'dhcp6-relay@r1',
        'dhcp6-relay@r2',
        'kea-dhcp6@kea',
        'radvd@r1',
        'radvd@r2',
      ]);
      expect(state.daemons.every((d) => daemonAlive(d))).to.equal(true);
      daemonsPids = state.daemons.map((d) => d.pid);
    });

    it("every instance's kernel holds the predicted SLAAC address and one default route per router", async () => {
      const seen = await observeInstances(pod.hypervisors.flatMap((h) => h.instances).map((i) => `v6p-${runName}.${i.name}`));
      for (const h of pod.hypervisors)
        for (const i of h.instances) {
          const o = seen.get(`v6p-${runName}.${i.name}`)!;
          expect(
            o.addresses.map((a) => a.address),
            i.name,
          ).to.include(slaacAddress(pod.pod.l2Prefix, i.mac));
          expect(o.defaultRoutes, `${i.name} default routes`).to.have.length(pod.routers.length);
        }
    });

    it("the infrastructure needs no neighbour resolution: Kea and each router, the core and each router hold each other as permanent entries of the real MACs, and each router its LAN's multicast groups", async () => {
      const plan = (await up(pod, runName, { podFile: DEFAULT_POD_FILE, owner: process.pid })).plan;
      const macOf = async (ns: string, dev: string) => (await ipJson<Array<{ address: string }>>(ns, ['link', 'show', 'dev', dev]))[0]!.address;
      const neighbours = async (ns: string, dev: string) =>
        (await ipJson<Array<{ dst: string; lladdr: string; state: string[] }>>(ns, ['-6', 'neigh', 'show', 'dev', dev])).map(
          (n) => `${n.dst} ${n.lladdr} ${n.state.join(',')}`,
        );
      const keaMac = await macOf(plan.kea.ns, plan.kea.iface);
      for (const r of plan.routers) {
        expect(await neighbours(r.ns, 'svc'), r.name).to.include(`${plan.kea.address} ${keaMac} PERMANENT`);
        expect(await neighbours(plan.kea.ns, plan.kea.iface), `kea's entry for ${r.name}`).to.include(
          `${r.serviceAddress} ${await macOf(r.ns, 'svc')} PERMANENT`,
        );
        expect(await neighbours(r.ns, 'uplink'), `${r.name}'s entry for the core`).to.include(`fe80::2 ${await macOf(plan.core.ns, r.name)} PERMANENT`);
        expect(await neighbours(plan.core.ns, r.name), `the core's entry for ${r.name}`).to.include(`fe80::1 ${await macOf(r.ns, 'uplink')} PERMANENT`);
        // RFC 2464 §7: 33:33 and the group's last 32 bits.
        expect(await neighbours(r.ns, 'lan'), `${r.name}'s LAN groups`).to.include.members([
          'ff02::1 33:33:00:00:00:01 PERMANENT',
          'ff02::16 33:33:00:00:00:16 PERMANENT',
        ]);
      }
    });

    it('a second up is a no-op that reuses the running pod', async () => {
      const { reused } = await up(pod, runName, { podFile: DEFAULT_POD_FILE, owner: process.pid });
      expect(reused).to.equal(true);
      expect(readState(runName)!.daemons.map((d) => d.pid)).to.deep.equal(daemonsPids);
    });

    it('up with another pod under the same run name is refused', async () => {
      const other = parsePodFile(
        `name: default\npod:\n  l2Prefix: 2001:db8:101::/64\n  pdPool: 2001:db8:300::/40\nhypervisors:\n  - name: hv1\n`,
        'other.yaml',
      );
      let error = '';
      await up(other, runName, { podFile: 'other.yaml', owner: process.pid }).catch((e: Error) => (error = e.message));
      expect(error).to.match(/is up with another pod/);
    });

    it('down leaves no namespace, process or run file behind', async () => {
      await teardownRun(runName);
      expect(v6podNamespaces().get(runName)).to.equal(undefined);
      expect(existsSync(runDir(runName))).to.equal(false);
      for (const pid of daemonsPids) expect(existsSync(`/proc/${pid}`), `daemon pid ${pid}`).to.equal(false);
    });
  });

  it('property: 20 random MACs give kernel SLAAC address == prediction', async () => {
    const macs = fc.sample(
      fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => {
        b[0] = b[0]! & 0xfe; // unicast
        return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
      }),
      { numRuns: 20, seed: 4291 },
    );
    const instances = macs.map((mac, i) => `      - name: m${i}\n        mac: "${mac}"`).join('\n');
    const pod = parsePodFile(
      `name: prop\npod:\n  l2Prefix: 2001:db8:42::/64\n  pdPool: 2001:db8:4200::/40\nhypervisors:\n  - name: hv1\n    instances:\n${instances}\n`,
      'prop.yaml',
    );
    const runName = uniqueRunName('prop');
    try {
      const { plan } = await up(pod, runName, { podFile: 'prop.yaml', owner: process.pid });
      const seen = await observeInstances(plan.instances.map((i) => i.ns));
      for (const inst of plan.instances) {
        const globals = seen
          .get(inst.ns)!
          .addresses.filter((a) => a.scope === 'global')
          .map((a) => a.address);
        expect(globals, `MAC ${inst.mac}`).to.deep.equal([slaacAddress('2001:db8:42::/64', inst.mac)]);
      }
    } finally {
      await teardownRun(runName);
    }
  });

  describe('crashes and decoys', () => {
    const decoyNs = `v6x-decoy-${process.pid}`;
    const decoyLink = `dcy${process.pid % 100000}`;
    let decoyProcess: ReturnType<typeof spawn> | undefined;

    before(async () => {
      await run(['ip', 'netns', 'add', decoyNs]);
      await run(['ip', 'link', 'add', 'name', decoyLink, 'type', 'veth', 'peer', 'name', `${decoyLink}p`]);
      decoyProcess = spawn('ip', ['netns', 'exec', decoyNs, 'sleep', '120'], { stdio: 'ignore' });
    });

    after(async () => {
      decoyProcess?.kill('SIGKILL');
      await run(['ip', 'link', 'del', decoyLink], { allowFailure: true });
      await run(['ip', 'netns', 'del', decoyNs], { allowFailure: true });
    });

    it('an up killed mid-way is fully removed by down --all; the decoys survive', async function () {
      // down --all also removes pods left up on purpose: never run it over someone's pod.
      if (sweepableRuns().length) this.skip();
      const runName = uniqueRunName('crash');
      const child = spawn('node', [CLI, 'up', DEFAULT_POD_FILE, '--run', runName], { stdio: 'ignore' });
      // Kill it once it has created kernel objects and started daemons, before it is ready.
      await waitUntil(() => (readState(runName)?.daemons.length ?? 0) > 0, { timeoutMs: 20_000, what: `up of ${runName} to start daemons` });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const daemons = readState(runName)!.daemons;
      expect(v6podNamespaces().get(runName)?.length, 'namespaces left by the crash').to.be.greaterThan(0);

      const res = cli(['down', '--all']);
      expect(res.status, res.stderr).to.equal(0);
      expect(v6podNamespaces().get(runName)).to.equal(undefined);
      expect(existsSync(runDir(runName))).to.equal(false);
      for (const d of daemons) expect(daemonAlive(d), `${d.name}@${d.node}`).to.equal(false);

      expect((await run(['ip', 'netns', 'list'])).stdout).to.include(decoyNs);
      expect((await run(['ip', 'link', 'show', 'dev', decoyLink], { allowFailure: true })).exitCode).to.equal(0);
      expect(decoyProcess!.exitCode).to.equal(null);
    });
  });

  describe('command line', () => {
    // (Another user gets a rootless pod instead: tests/rootless/.)
    it('up as root without its capabilities: one line and exit 2', () => {
      const r = spawnSync('setpriv', ['--bounding-set=-all', '--inh-caps=-all', 'node', CLI, 'up', DEFAULT_POD_FILE], {
        encoding: 'utf8',
      });
      expect(r.status).to.equal(2);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(r.stderr).to.match(/needs CAP_NET_ADMIN and CAP_SYS_ADMIN/);
    });

    it('up with a bad pod file: every error on its own line, exit 2, nothing created', () => {
      const dir = mkdtempSync(join(tmpdir(), 'v6pod-bad-'));
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, 'name: bad\npod:\n  l2Prefix: 2001:db8::/56\n  pdPool: 2001:db8::/40\nhypervisors: []\n');
      const r = cli(['up', file]);
      expect(r.status).to.equal(2);
      expect(r.stderr.trim().split('\n').length).to.be.greaterThan(1);
      expect(r.stderr).to.not.match(/at .*\.ts:\d+/);
      expect(v6podNamespaces().get('bad'), 'namespaces of run bad').to.equal(undefined);
      expect(existsSync(runDir('bad')), 'run directory of run bad').to.equal(false);
    });
  });
});
