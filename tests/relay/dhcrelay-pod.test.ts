/**
 * The routers running a relay v6pod did not write (docs/relays.md): Debian's ISC dhcrelay -6 and
 * the user's command under the external-relay contract, in real pods. What they send Kea is
 * captured (no option 37, no option 79: Kea told to use the DUID still delegates), what they do not
 * do is shown (no route for a delegated prefix, and the PD check's failure says so), and they are
 * daemons of the run: down leaves none behind, a command that exits fails `up` in one line.
 */
import { expect } from 'chai';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPodFile, DEFAULT_POD_FILE, withRelayChoice, type Pod } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName, runDir } from '../../harness/pod/names.ts';
import { readState } from '../../netns/run-state.ts';
import { BRIDGES, type InstancePlan, type Plan } from '../../harness/pod/plan.ts';
import { daemonAlive } from '../../netns/daemons/process.ts';
import { listensOn547 } from '../../netns/daemons/relay-ready.ts';
import { Capture } from '../../harness/probe/agent-client.ts';
import { setCurrentPod, clearCurrentPod } from '../../harness/probe/pod-context.ts';
import { dhcpClient, relayRoutes, reservedPrefixes, waitNoRoutes, waitRoutesOnAllRouters } from '../../harness/probe/dhcp.ts';
import { relayMessageOf, relayedOf } from '../../harness/probe/frame-match.ts';
import { relayOptionsOf } from '../../harness/probe/relay-options.ts';
import { inspectRun } from '../../netns/inspect.ts';
import { v6podNamespaces } from '../../netns/teardown.ts';

const WRAPPER = fileURLToPath(new URL('../../fixtures/relays/dhcrelay-external.sh', import.meta.url));
const V6POD_EXTERNAL = fileURLToPath(new URL('../../fixtures/relays/v6pod-relay-external.ts', import.meta.url));

function podWith(choice: Parameters<typeof withRelayChoice>[1]): Pod {
  return withRelayChoice(loadPodFile(DEFAULT_POD_FILE), choice);
}

/** One pod with `choice` up for a describe block; its run name, plan and instances. */
function podFor(tag: string, choice: Parameters<typeof withRelayChoice>[1]) {
  const ctx = { runName: uniqueRunName(tag), plan: undefined as unknown as Plan };
  before(async function () {
    ({ plan: ctx.plan } = await up(podWith(choice), ctx.runName, { podFile: DEFAULT_POD_FILE, owner: process.pid }));
    mkdirSync(`${runDir(ctx.runName)}/test`, { recursive: true });
    setCurrentPod(ctx.plan, `${runDir(ctx.runName)}/test`);
  });
  after(async function () {
    clearCurrentPod();
    if (process.env.V6POD_KEEP !== '1') await teardownRun(ctx.runName);
  });
  return ctx;
}

describe('ISC dhcrelay -6 as the routers’ relay (relay: isc-dhcrelay)', function () {
  this.timeout(90_000);
  // Kea told to learn MACs from the DUID: dhcrelay inserts nothing Kea could take a MAC from.
  const pod = podFor('dhcrelay', { relay: 'isc-dhcrelay', macSources: ['duid'] });
  const inst = (name: string): InstancePlan => pod.plan.instances.find((i) => i.name === name)!;

  it('runs on each router as the run’s dhcp6-relay daemon, listening on UDP 547; status has no relay problem', async function () {
    const relays = readState(pod.runName)!.daemons.filter((d) => d.name === 'dhcp6-relay');
    expect(relays.map((d) => [d.node, d.argv[0]]).sort()).to.deep.equal([
      ['r1', '/usr/sbin/dhcrelay'],
      ['r2', '/usr/sbin/dhcrelay'],
    ]);
    for (const d of relays) {
      expect(daemonAlive(d), `${d.node}'s dhcrelay alive`).to.equal(true);
      expect(listensOn547(d.pid), `${d.node}'s dhcrelay on UDP 547`).to.equal(true);
    }
    const status = await inspectRun(pod.runName);
    expect(status.problems.filter((p) => /relay/i.test(p))).to.deep.equal([]);
  });

  it('forwards with link-address and peer-address but no option 37 or 79; Kea told to use the DUID delegates; no router routes the prefix, and the check says why', async function () {
    const vm1 = inst('vm1');
    const reserved = await reservedPrefixes(vm1);
    const kea = await Capture.start(pod.plan.kea.ns, BRIDGES.service, `${runDir(pod.runName)}/test/kea.pcap`, 'ip6 and udp port 547');
    try {
      const r = await dhcpClient(vm1, { steps: [{ op: 'acquire' }] });
      expect(
        r.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix)),
        'what vm1 got through dhcrelay',
      ).to.deep.equal(reserved);
      const forwards = await kea.waitFor(
        (fs) => {
          const fw = fs.filter((f) => relayedOf(f, 'request'));
          return fw.length >= pod.plan.routers.length ? fw : undefined;
        },
        5000,
        "each router's Relay-Forward of vm1's Request",
      );
      for (const f of forwards) {
        const m = relayMessageOf(f)!;
        const router = pod.plan.routers.find((x) => x.lanAddress === (m as { linkAddress: string }).linkAddress);
        expect(router, `link-address ${(m as { linkAddress: string }).linkAddress} is a router's LAN address`).to.not.equal(undefined);
        expect((m as { peerAddress: string }).peerAddress).to.equal(vm1.linkLocal);
        expect(relayOptionsOf(f), `options of ${router!.name}'s Relay-Forward`).to.deep.equal(['relay-message']);
      }
    } finally {
      await kea.stop();
    }
    for (const router of pod.plan.routers) expect(await relayRoutes(router), `${router.name}'s routes for delegated prefixes`).to.deep.equal([]);
    const err = await waitRoutesOnAllRouters(reserved, vm1.linkLocal, 1000).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(
      new RegExp(
        `^no route for ${reserved[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} on r1: the relay \\(isc-dhcrelay\\) installs no routes for delegated prefixes`,
      ),
    );
    await dhcpClient(vm1, { steps: [{ op: 'acquire' }, { op: 'release' }] });
  });

  it('down stops both dhcrelays: no process of the run is left', async function () {
    const relays = readState(pod.runName)!.daemons.filter((d) => d.name === 'dhcp6-relay');
    await teardownRun(pod.runName);
    for (const d of relays) expect(daemonAlive(d), `${d.node}'s dhcrelay (pid ${d.pid}) after down`).to.equal(false);
  });
});

describe('an external relay under the contract (relay: external)', function () {
  this.timeout(90_000);

  describe('the worked example (fixtures/relays/dhcrelay-external.sh)', function () {
    const pod = podFor('extrelay', { relay: 'external', relayCommand: WRAPPER, macSources: ['duid'] });

    it('is given the contract’s facts and serves clients', async function () {
      const config = JSON.parse(readFileSync(`${runDir(pod.runName)}/relay-external-r1.json`, 'utf8')) as Record<string, unknown>;
      const r1 = pod.plan.routers[0]!;
      expect(config).to.deep.include({ version: 1, router: 'r1', delegationPool: pod.plan.pod.pod.pdPool, routeProtocol: 201 });
      expect(config.lower).to.deep.equal({ interface: 'lan', linkAddress: r1.lanAddress, linkLocal: r1.linkLocal, mac: r1.mac.toLowerCase() });
      expect(config.upper).to.deep.equal({ interface: 'svc', address: r1.serviceAddress, server: pod.plan.kea.address });
      const vm4 = pod.plan.instances.find((i) => i.name === 'vm4')!;
      const r = await dhcpClient(vm4, { steps: [{ op: 'acquire' }, { op: 'release' }] });
      expect(r.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix))).to.deep.equal(await reservedPrefixes(vm4));
    });
  });

  describe("v6pod's relay behind the contract (fixtures/relays/v6pod-relay-external.ts)", function () {
    const pod = podFor('extv6p', { relay: 'external', relayCommand: `${process.execPath} --import tsx ${V6POD_EXTERNAL}` });

    it('has all it needs from the contract: option 37 identifies the client, both routers route its prefix, its Release removes the routes', async function () {
      const vm4 = pod.plan.instances.find((i) => i.name === 'vm4')!;
      const reserved = await reservedPrefixes(vm4);
      const r = await dhcpClient(vm4, { duid: '02:00:00:00:ee:04', steps: [{ op: 'acquire' }] });
      expect(
        r.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix)),
        'what vm4 got with a DUID not of its MAC',
      ).to.deep.equal(reserved);
      await waitRoutesOnAllRouters(reserved, vm4.linkLocal);
      await dhcpClient(vm4, { duid: '02:00:00:00:ee:04', steps: [{ op: 'acquire' }, { op: 'release' }] });
      await waitNoRoutes(reserved);
    });
  });

  it('a command that exits fails up in one line naming the router and its log, and leaves nothing behind', async function () {
    const runName = uniqueRunName('extfail');
    const err = await up(podWith({ relay: 'external', relayCommand: '/bin/false' }), runName, { podFile: DEFAULT_POD_FILE, owner: process.pid }).then(
      () => undefined,
      (e: Error) => e,
    );
    try {
      expect(err?.message).to.match(/^dhcp6-relay on r[12] exited( \(exit code 1\))?; its log \S+relay-external-r[12]\.log ends/);
      expect(v6podNamespaces().get(runName) ?? []).to.deep.equal([]);
    } finally {
      await teardownRun(runName).catch(() => undefined);
    }
  });
});
