/**
 * The relay agent in a real pod: Kea with reservations, the relay in r1 and r2, real
 * clients in the instances (wide-dhcpv6 dhcp6c with the seed's config, and the codec-built test
 * client for two IA_PDs, unknown MACs, forged and malformed messages), captures at Kea.
 */
import { expect } from 'chai';
import { mkdirSync, writeFileSync, cpSync, readFileSync } from 'node:fs';
import { loadPodFile, DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName, namespaceName, runDir } from '../../harness/pod/names.ts';
import { readState, writeState, type DaemonRecord } from '../../netns/run-state.ts';
import type { Plan, InstancePlan, RouterPlan } from '../../harness/pod/plan.ts';
import { BRIDGES } from '../../harness/pod/plan.ts';
import { keaCommand } from '../../harness/os/control-socket.ts';
import { keaConfig, keaPaths, type KeaReservation } from '../../harness/control/kea-config.ts';
import { relayCommand, relayPaths, startRelay } from '../../netns/daemons/relay.ts';
import { stopDaemon } from '../../netns/daemons/process.ts';
import { ipJson, run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { Capture } from '../../harness/probe/agent-client.ts';
import { encodeDhcpv6, findOption, innermostMessage, relayChain } from '../../harness/packet/dhcpv6.ts';
import { linkLocalAddress } from '../../harness/addr/slaac.ts';
import { dhcpClient, relayRoutes, startDhcp6c } from '../../harness/probe/dhcp.ts';
import type { CounterSnapshot } from '../../harness/relay/counters.ts';

const RESERVED = {
  vm1: ['2001:db8:200::/60'],
  vm2: ['2001:db8:200:30::/60'],
  vm3: ['2001:db8:200:10::/60', '2001:db8:200:20::/60'],
  spy: ['2001:db8:200:40::/60'],
};
/** The extra instance with a stable-privacy link-local (not EUI-64), attached to hv1. */
const SPY = { node: 'spy', mac: '02:5e:c0:00:00:01', port: 'vnet9' };

async function counters(plan: Plan, r: RouterPlan): Promise<CounterSnapshot> {
  const answer = await relayCommand(relayPaths(plan.run, r.name).socket, 'counters');
  return answer.arguments as unknown as CounterSnapshot;
}

describe('relay agent in a real pod', function () {
  this.timeout(120_000);
  const runName = uniqueRunName('relay');
  let plan: Plan;
  let kea: Capture;
  const inst = (name: string): InstancePlan => plan.instances.find((i) => i.name === name)!;
  const dir = () => `${runDir(runName)}/relay-test`;

  const recordDaemon = (d: DaemonRecord) => {
    const state = readState(runName)!;
    state.daemons = [...state.daemons.filter((x) => !(x.name === d.name && x.node === d.node)), d];
    writeState(state);
  };

  before(async function () {
    // The relay's own defences are tested with nothing in front of them: no security groups, which
    // would drop the forged frames (and the hand-made spy port) first (see SG-012 and RELAY-00x).
    ({ plan } = await up(loadPodFile(DEFAULT_POD_FILE), runName, { podFile: DEFAULT_POD_FILE, owner: process.pid, securityGroups: false }));
    const reservations: KeaReservation[] = [
      ...(['vm1', 'vm2', 'vm3'] as const).map((n) => ({ mac: inst(n).mac, prefixes: RESERVED[n] })),
      { mac: SPY.mac, prefixes: RESERVED.spy },
    ];
    writeFileSync(keaPaths(runName).config, `${JSON.stringify(keaConfig(plan, reservations), null, 2)}\n`);
    const reload = await keaCommand(keaPaths(runName).socket, 'config-reload');
    expect(reload.result, reload.text).to.equal(0);
    mkdirSync(dir(), { recursive: true });
    kea = await Capture.start(plan.kea.ns, BRIDGES.service, `${dir()}/kea.pcap`, 'ip6 and udp port 547');
  });

  after(async function () {
    await kea?.stop();
    if (process.env.V6POD_KEEP !== '1') await teardownRun(runName);
  });

  const bothHold = (prefixes: string[], via: string) =>
    waitUntil(
      async () => {
        for (const r of plan.routers) {
          const rows = await relayRoutes(r);
          for (const p of prefixes) if (rows.filter((x) => x.prefix === p && x.via === via).length !== 1) return false;
        }
        return true;
      },
      { timeoutMs: 15_000, what: `both routers to hold ${prefixes.join(', ')} via ${via}` },
    );
  const noneHold = (prefixes: string[]) =>
    waitUntil(
      async () => {
        for (const r of plan.routers) if ((await relayRoutes(r)).some((x) => prefixes.includes(x.prefix))) return false;
        return true;
      },
      { timeoutMs: 15_000, what: `no router to hold ${prefixes.join(', ')}` },
    );

  it('dhcp6c (seed config) gets exactly its reserved /60; both routers route it via its link-local; the core reaches it; Release removes the routes', async function () {
    const vm1 = inst('vm1');
    const cap = await Capture.start(vm1.ns, 'eth0', `${dir()}/vm1.pcap`, 'udp port 546');
    const dhcp6c = startDhcp6c(vm1.ns, `${dir()}/vm1`);
    try {
      const reply = await cap.waitFor(
        (frames) =>
          frames.map((f) => f.frame.dhcpv6).find((m) => m?.type === 'reply' && findOption(m.options, 'ia-pd')?.options.some((o) => o.type === 'iaprefix')),
        15_000,
        'a Reply with a delegated prefix for dhcp6c',
      );
      const prefixes =
        reply.type === 'reply'
          ? findOption(reply.options, 'ia-pd')!.options.flatMap((o) => (o.type === 'iaprefix' ? [`${o.prefix}/${o.prefixLength}`] : []))
          : [];
      expect(prefixes).to.deep.equal(RESERVED.vm1);
      await bothHold(RESERVED.vm1, vm1.linkLocal);
      await run(['ip', '-6', 'address', 'add', '2001:db8:200::1/128', 'dev', 'lo'], { ns: vm1.ns });
      await waitUntil(
        async () => (await run(['ping', '-6', '-c', '1', '-W', '1', '2001:db8:200::1'], { ns: plan.core.ns, allowFailure: true })).exitCode === 0,
        {
          timeoutMs: 10_000,
          what: "the core to ping 2001:db8:200::1 inside vm1's delegated prefix",
        },
      );
    } finally {
      await dhcp6c.stop(); // SIGTERM: dhcp6c sends a Release
      await cap.stop();
    }
    await noneHold(RESERVED.vm1);
  });

  it('two IA_PDs get the two reserved prefixes, each routed on both routers; an unknown MAC gets NoPrefixAvail and no route', async function () {
    const vm3 = inst('vm3');
    const res = await dhcpClient(vm3, { duid: '02:aa:bb:cc:dd:03', iaPds: 2 });
    expect(res.steps[0]!.answer, 'Reply').to.equal('reply');
    expect(res.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix)).sort()).to.deep.equal([...RESERVED.vm3].sort());
    await bothHold(RESERVED.vm3, vm3.linkLocal);

    const vm4 = inst('vm4');
    const unknown = await dhcpClient(vm4, { duid: '02:aa:bb:cc:dd:04' });
    expect(unknown.steps[0]!.iaPds[0]?.status).to.equal(6); // NoPrefixAvail
    for (const r of plan.routers) expect((await relayRoutes(r)).filter((x) => x.via === vm4.linkLocal)).to.deep.equal([]);
  });

  it("option 37 carries the frame's source MAC for a stable-privacy link-local and a copied DUID; that instance gets only its own prefix", async function () {
    const ns = namespaceName(runName, SPY.node);
    const hv1 = namespaceName(runName, 'hv1');
    await run(['ip', 'netns', 'add', ns]);
    await run(['ip', 'link', 'add', 'name', 'eth0', 'netns', ns, 'address', SPY.mac, 'type', 'veth', 'peer', 'name', SPY.port, 'netns', hv1]);
    await run(['ip', 'link', 'set', SPY.port, 'master', BRIDGES.hypervisor, 'up'], { ns: hv1 });
    await run(
      [
        'sh',
        '-ec',
        'echo 0123:4567:89ab:cdef:0123:4567:89ab:cdef > /proc/sys/net/ipv6/conf/eth0/stable_secret; echo 3 > /proc/sys/net/ipv6/conf/eth0/addr_gen_mode; echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad; ip link set lo up; ip link set eth0 up',
      ],
      { ns },
    );
    const ll = await waitUntil(
      async () =>
        (await ipJson<{ addr_info: { local: string; scope: string }[] }[]>(ns, ['-6', 'address', 'show', 'dev', 'eth0']))
          .flatMap((i) => i.addr_info)
          .find((a) => a.scope === 'link')?.local,
      {
        timeoutMs: 5000,
        what: 'the stable-privacy link-local',
      },
    );
    expect(ll).to.not.equal(linkLocalAddress(SPY.mac)); // not EUI-64: the relay cannot derive the MAC from it
    // dhcp6c with vm1's DUID (the folder dhcp6c wrote in the first test).
    const spyDir = `${dir()}/spy`;
    mkdirSync(spyDir, { recursive: true });
    cpSync(`${dir()}/vm1/dhcpv6`, `${spyDir}/dhcpv6`, { recursive: true });
    expect(readFileSync(`${spyDir}/dhcpv6/dhcp6c_duid`).length).to.be.greaterThan(0);
    const dhcp6c = startDhcp6c(ns, spyDir);
    try {
      await bothHold(RESERVED.spy, ll);
      const forwards = kea
        .frames()
        .map((f) => f.frame.dhcpv6)
        .filter((m) => m?.type === 'relay-forward' && m.peerAddress === ll);
      expect(forwards.length).to.be.greaterThan(0);
      for (const m of forwards)
        if (m?.type === 'relay-forward') expect(findOption(m.options, 'remote-id')).to.deep.include({ enterpriseNumber: 4491, remoteId: SPY.mac });
      for (const r of plan.routers) expect((await relayRoutes(r)).filter((x) => x.via === ll).map((x) => x.prefix)).to.deep.equal(RESERVED.spy);
    } finally {
      await dhcp6c.stop();
    }
    await noneHold(RESERVED.spy);
  });

  it('a relay restart with live leases keeps every route, duplicates none, and removes a stale one', async function () {
    const r1 = plan.routers[0]!;
    const before = (await relayRoutes(r1)).map((x) => `${x.prefix} via ${x.via}`).sort();
    expect(before).to.include(`${RESERVED.vm3[0]} via ${inst('vm3').linkLocal}`);
    await run(['ip', '-6', 'route', 'add', '2001:db8:2ff::/60', 'via', 'fe80::99', 'dev', 'lan', 'proto', '201'], { ns: r1.ns });
    // The relay `up` started on r1, stopped and started again.
    const old = readState(runName)!.daemons.find((d) => d.name === 'dhcp6-relay' && d.node === r1.name)!;
    await stopDaemon(old);
    recordDaemon(await startRelay(plan, r1));
    const after = (await relayRoutes(r1)).map((x) => `${x.prefix} via ${x.via}`).sort();
    expect(after).to.deep.equal(before);
    const held = (await relayCommand(relayPaths(runName, r1.name).socket, 'routes')).arguments!.routes as { prefix: string }[];
    expect(held.map((x) => x.prefix).sort()).to.deep.equal(before.map((x) => x.split(' ')[0]).sort());
  });

  it('a forged Relay-Forward from an instance (its own option 37) never reaches Kea and is counted', async function () {
    const vm2 = inst('vm2');
    const xid = 0x0f0f0f;
    const forged = encodeDhcpv6({
      type: 'relay-forward',
      hopCount: 0,
      linkAddress: '2001:db8:100::99',
      peerAddress: vm2.linkLocal,
      options: [
        { type: 'remote-id', enterpriseNumber: 4491, remoteId: inst('vm1').mac },
        {
          type: 'relay-message',
          message: {
            type: 'solicit',
            transactionId: xid,
            options: [
              { type: 'client-id', duid: { type: 'll', hardwareType: 1, linkLayerAddress: '02:00:00:00:00:66' } },
              { type: 'ia-pd', iaid: 1, t1: 0, t2: 0, options: [] },
            ],
          },
        },
      ],
    });
    const beforeCounts = await Promise.all(plan.routers.map((r) => counters(plan, r)));
    // The forged datagram, then vm2's own Solicit as the control: once that reached Kea through
    // both relays, the forged one (sent first, on the same path) had its chance too.
    await dhcpClient(vm2, { steps: [{ op: 'raw', hex: forged.toString('hex'), srcPort: 547 }] });
    await dhcpClient(vm2, { duid: '02:aa:bb:cc:dd:22', steps: [{ op: 'acquire' }, { op: 'release' }] });
    await waitUntil(
      async () =>
        (await Promise.all(plan.routers.map((r) => counters(plan, r)))).every(
          (c, i) => (c.dropped['from-client:relay-forward'] ?? 0) === (beforeCounts[i]!.dropped['from-client:relay-forward'] ?? 0) + 1,
        ),
      { timeoutMs: 5000, what: 'both relays to count the forged Relay-Forward' },
    );
    await kea.waitFor(
      (frames) =>
        frames.filter(
          (f) =>
            f.frame.dhcpv6?.type === 'relay-forward' && f.frame.dhcpv6.peerAddress === vm2.linkLocal && innermostMessage(f.frame.dhcpv6)?.type === 'solicit',
        ).length >= plan.routers.length || undefined,
      5000,
      "vm2's own Solicit relayed by both routers (control)",
    );
    const reached = kea.frames().filter((f) => {
      const m = f.frame.dhcpv6;
      if (!m) return false;
      const inner = innermostMessage(m);
      return relayChain(m).length > 1 || (inner?.type === 'solicit' && inner.transactionId === xid);
    });
    expect(reached).to.deep.equal([]);
  });

  it('hop-count above the limit, malformed and oversize messages are dropped and counted; the relay keeps serving', async function () {
    const vm2 = inst('vm2');
    const deep = encodeDhcpv6({
      type: 'relay-forward',
      hopCount: 8,
      linkAddress: '::',
      peerAddress: vm2.linkLocal,
      options: [{ type: 'relay-message', message: { type: 'solicit', transactionId: 1, options: [] } }],
    });
    const malformed = Buffer.from('01000001' + '0001' + '0010' + 'ab', 'hex'); // option length runs past the end
    const oversize = encodeDhcpv6({ type: 'solicit', transactionId: 2, options: [{ type: 'unknown', optionCode: 65000, data: Buffer.alloc(1400) }] });
    const beforeCounts = await Promise.all(plan.routers.map((r) => counters(plan, r)));
    await dhcpClient(vm2, { steps: [deep, malformed, oversize].map((b) => ({ op: 'raw' as const, hex: b.toString('hex') })) });
    const grew = (reason: string) => async () =>
      (await Promise.all(plan.routers.map((r) => counters(plan, r)))).every((c, i) => (c.dropped[reason] ?? 0) > (beforeCounts[i]!.dropped[reason] ?? 0));
    for (const reason of ['hop-count-exceeded', 'malformed', 'oversize'])
      await waitUntil(grew(reason), { timeoutMs: 5000, what: `both relays to count '${reason}'` });
    const res = await dhcpClient(vm2, { duid: '02:aa:bb:cc:dd:02' });
    expect(res.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix))).to.deep.equal(RESERVED.vm2);
    await bothHold(RESERVED.vm2, vm2.linkLocal);
  });

  it('drop-routes <mac> removes the routes delegated to that MAC at once', async function () {
    const vm2 = inst('vm2');
    for (const r of plan.routers) {
      const answer = await relayCommand(relayPaths(runName, r.name).socket, 'drop-routes', { mac: vm2.mac });
      expect(answer.arguments!.removed).to.deep.equal(RESERVED.vm2);
    }
    await noneHold(RESERVED.vm2);
  });
});
