/**
 * Synthetic instances in a real pod: the host daemon on hv1 serving two TAPs on cloudbr0,
 * against the real radvd on r1 and r2, the relays and Kea. Proves each instance's exact SLAAC
 * address and both routers (from real RAs), the TAPs in the kernel's bridge, pings from the core
 * answered by the emulated stack, and PD: the reserved prefix delegated, routed by both routers,
 * reachable at <prefix>::1, and gone from both routers after a Release.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { loadPodFile, DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { namespaceName, uniqueRunName } from '../../harness/pod/names.ts';
import { readState, writeState } from '../../netns/run-state.ts';
import { BRIDGES, type Plan } from '../../harness/pod/plan.ts';
import { startSynthHost, synthCommand, synthPaths, type SynthInstance } from '../../netns/daemons/synth.ts';
import { stopDaemon } from '../../netns/daemons/process.ts';
import { ipJson, run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { PodControl } from '../../harness/control/pod-control.ts';
import { slaacAddress } from '../../harness/addr/slaac.ts';
import { Prefix } from '../../harness/addr/prefix.ts';
import { relayRoutes } from '../../harness/probe/dhcp.ts';
import type { HostSnapshot } from '../../harness/synth/host.ts';

const HV = 'hv1';
const INSTANCES: SynthInstance[] = [
  { name: 'syn1', mac: '02:5f:00:00:00:01', port: 'vnet10', iaids: [1], dhcp: true },
  { name: 'syn2', mac: '02:5f:00:00:00:02', port: 'vnet11', iaids: [1], dhcp: true },
];

describe('synthetic instances in a real pod', function () {
  this.timeout(180_000);
  const runName = uniqueRunName('synth');
  let plan: Plan;
  const reserved = new Map<string, string[]>();
  const socket = () => synthPaths(runName, HV).socket;

  async function snapshots(): Promise<Map<string, HostSnapshot>> {
    const answer = await synthCommand(socket(), 'state');
    expect(answer.result, answer.text).to.equal(0);
    return new Map((answer.arguments!.instances as HostSnapshot[]).map((s) => [s.name, s]));
  }

  const ping = (address: string) => run(['ping', '-6', '-c1', '-W2', address], { ns: plan.core.ns, allowFailure: true });

  before(async function () {
    // No security groups: these ports are not in the pod file, so no group would let them speak.
    ({ plan } = await up(loadPodFile(DEFAULT_POD_FILE), runName, { podFile: DEFAULT_POD_FILE, owner: process.pid, securityGroups: false }));
    const control = await PodControl.open(plan, readState(runName)!.pg);
    try {
      for (const r of await control.reserve(INSTANCES.map((i) => ({ mac: i.mac, count: 1 })))) reserved.set(r.mac, r.prefixes);
    } finally {
      await control.close();
    }
    const record = await startSynthHost(plan, HV, INSTANCES);
    const state = readState(runName)!;
    writeState({ ...state, daemons: [...state.daemons, record] });
  });

  after(async function () {
    if (process.env.V6POD_KEEP === '1') return;
    const host = readState(runName)?.daemons.find((d) => d.name === 'synth-host');
    if (host) await stopDaemon(host);
    await teardownRun(runName);
  });

  it('the hypervisor kernel has each TAP in cloudbr0, up, with IPv6 off on the port', async () => {
    const ns = namespaceName(runName, HV);
    const ports = await ipJson<Array<{ ifname: string; master?: string; operstate: string; flags: string[] }>>(ns, [
      'link',
      'show',
      'master',
      BRIDGES.hypervisor,
    ]);
    for (const i of INSTANCES) {
      const port = ports.find((p) => p.ifname === i.port);
      expect(port, `${i.port} in ${BRIDGES.hypervisor}`).to.not.equal(undefined);
      expect(port!.flags).to.include('UP');
      const disabled = await run(['cat', `/proc/sys/net/ipv6/conf/${i.port}/disable_ipv6`], { ns });
      expect(disabled.stdout.trim()).to.equal('1');
      const addrs = await ipJson<Array<{ addr_info: unknown[] }>>(ns, ['-6', 'addr', 'show', 'dev', i.port]);
      expect(addrs.flatMap((a) => a.addr_info)).to.deep.equal([]);
    }
  });

  it("the host daemon yields the CPU to the pod's daemons: nice 19 in its own scheduling group, Kea left at 0", () => {
    const daemons = readState(runName)!.daemons;
    const host = daemons.find((d) => d.name === 'synth-host')!;
    const kea = daemons.find((d) => d.name === 'kea-dhcp6')!;
    expect(getPriority(host.pid)).to.equal(19);
    expect(getPriority(kea.pid)).to.equal(0);
    // Under autogroup (each daemon its own session) only the group's nice weighs it against Kea.
    if (existsSync(`/proc/${host.pid}/autogroup`)) {
      expect(readFileSync(`/proc/${host.pid}/autogroup`, 'utf8')).to.match(/ nice 19$/m);
      expect(readFileSync(`/proc/${kea.pid}/autogroup`, 'utf8')).to.match(/ nice 0$/m);
    }
  });

  it('each instance takes its exact SLAAC address and both routers as default routers, from real radvd', async () => {
    const routers = plan.routers.map((r) => [r.linkLocal, r.mac.toLowerCase()]).sort();
    const snaps = await waitUntil(
      async () => {
        const s = await snapshots();
        const done = INSTANCES.every(
          (i) => s.get(i.name)?.addresses.some((a) => a.origin === 'slaac' && a.state === 'preferred') && s.get(i.name)!.defaultRouters.length === 2,
        );
        return done && s;
      },
      { timeoutMs: 20_000, what: 'both synthetic instances to hold a preferred SLAAC address and two default routers' },
    );
    for (const i of INSTANCES) {
      const s = snaps.get(i.name)!;
      expect(s.addresses.filter((a) => a.origin === 'slaac').map((a) => [a.address, a.prefixLength])).to.deep.equal([
        [slaacAddress(plan.pod.pod.l2Prefix, i.mac), 64],
      ]);
      expect(s.linkLocal.state).to.equal('preferred');
      expect(s.defaultRouters.map((r) => [r.address, r.mac]).sort()).to.deep.equal(routers);
      expect(s.counters.malformed).to.equal(0);
    }
  });

  it('a ping from the core to each SLAAC address is answered by the emulated stack', async () => {
    const before = await snapshots();
    for (const i of INSTANCES) {
      const address = slaacAddress(plan.pod.pod.l2Prefix, i.mac);
      const r = await ping(address);
      expect(r.exitCode, `ping ${address}: ${r.stdout}${r.stderr}`).to.equal(0);
    }
    const after = await snapshots();
    for (const i of INSTANCES) expect(after.get(i.name)!.counters.echoAnswered).to.be.greaterThan(before.get(i.name)!.counters.echoAnswered);
    // Control: an address in the pod /64 that nobody holds is not answered.
    expect((await ping(slaacAddress(plan.pod.pod.l2Prefix, '02:5f:00:00:00:99'))).exitCode).to.not.equal(0);
  });

  it('the reserved prefix is delegated, routed by both routers via the link-local, and answers at <prefix>::1', async () => {
    for (const i of INSTANCES) {
      const prefix = reserved.get(i.mac)![0]!;
      const snap = await waitUntil(
        async () => {
          const s = (await snapshots()).get(i.name)!;
          return s.dhcp?.prefixes.some((p) => p.prefix === prefix) && s;
        },
        { timeoutMs: 20_000, what: `${i.name} to be delegated ${prefix}` },
      );
      expect(snap.dhcp!.state).to.equal('bound');
      expect(snap.dhcp!.prefixes.map((p) => p.prefix)).to.deep.equal([prefix]);
      const via = snap.linkLocal.address;
      for (const r of plan.routers) {
        await waitUntil(async () => (await relayRoutes(r)).some((x) => x.prefix === prefix && x.via === via), {
          timeoutMs: 10_000,
          what: `${r.name} to route ${prefix} via ${via}`,
        });
      }
      const inside = Prefix.parse(prefix).address(1n);
      const r = await ping(inside);
      expect(r.exitCode, `ping ${inside}: ${r.stdout}${r.stderr}`).to.equal(0);
    }
  });

  it('release: the prefix leaves both routers; remove: the TAP leaves the hypervisor', async () => {
    const [i] = INSTANCES;
    const prefix = reserved.get(i!.mac)![0]!;
    const answer = await synthCommand(socket(), 'release', { name: i!.name });
    expect(answer.result, answer.text).to.equal(0);
    for (const r of plan.routers) {
      await waitUntil(async () => !(await relayRoutes(r)).some((x) => x.prefix === prefix), {
        timeoutMs: 10_000,
        what: `${r.name} to drop ${prefix} after the Release`,
      });
    }
    // The other instance keeps its route: the Release was for one prefix only.
    const other = reserved.get(INSTANCES[1]!.mac)![0]!;
    expect((await relayRoutes(plan.routers[0]!)).map((x) => x.prefix)).to.include(other);
    const removed = await synthCommand(socket(), 'remove', { name: i!.name });
    expect(removed.result, removed.text).to.equal(0);
    const ns = namespaceName(runName, HV);
    const links = await ipJson<Array<{ ifname: string }>>(ns, ['link', 'show']);
    expect(links.map((l) => l.ifname)).to.not.include(i!.port);
    expect(links.map((l) => l.ifname)).to.include(INSTANCES[1]!.port);
  });

  it('add at runtime (vm deploy): a new TAP is attached and its instance configures itself', async () => {
    const late: SynthInstance = { name: 'syn3', mac: '02:5f:00:00:00:03', port: 'vnet12', iaids: [1], dhcp: false };
    const answer = await synthCommand(socket(), 'add', { instance: late });
    expect(answer).to.deep.equal({ result: 0, arguments: { added: ['syn3'] } });
    const ports = await ipJson<Array<{ ifname: string }>>(namespaceName(runName, HV), ['link', 'show', 'master', BRIDGES.hypervisor]);
    expect(ports.map((p) => p.ifname)).to.include('vnet12');
    const want = slaacAddress(plan.pod.pod.l2Prefix, late.mac);
    await waitUntil(async () => (await snapshots()).get('syn3')?.addresses.some((a) => a.address === want && a.state === 'preferred'), {
      timeoutMs: 20_000,
      what: `syn3 to hold ${want}`,
    });
    expect((await snapshots()).get('syn3')!.dhcp).to.equal(null);
    // A resumed deploy removes and adds at once: the port's name is free again the moment it is removed.
    expect((await synthCommand(socket(), 'remove', { name: 'syn3' })).result).to.equal(0);
    const again = await synthCommand(socket(), 'add', { instance: late });
    expect(again.result, again.text).to.equal(0);
    // Adding what is already served is refused in one line, and changes nothing.
    const twice = await synthCommand(socket(), 'add', { instance: late });
    expect(twice).to.deep.equal({ result: 1, text: "instance syn3.name: 'syn3' is already used by another instance" });
  });

  it('SIGTERM: the daemon exits, its TAPs go, and no Release is sent (the routes stay)', async () => {
    const state = readState(runName)!;
    const host = state.daemons.find((d) => d.name === 'synth-host')!;
    await stopDaemon(host);
    writeState({ ...state, daemons: state.daemons.filter((d) => d !== host) });
    const links = await ipJson<Array<{ ifname: string }>>(namespaceName(runName, HV), ['link', 'show']);
    expect(links.map((l) => l.ifname).filter((n) => /^vnet1\d$/.test(n))).to.deep.equal([]);
    expect(readFileSync(synthPaths(runName, HV).log, 'utf8')).to.match(/stopped \(SIGTERM\)\n$/);
    const kept = reserved.get(INSTANCES[1]!.mac)![0]!;
    for (const r of plan.routers) expect((await relayRoutes(r)).map((x) => x.prefix)).to.include(kept);
  });
});
