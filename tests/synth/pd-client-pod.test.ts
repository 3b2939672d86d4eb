/**
 * The synthetic instances' PD client against the real pod: Kea with a reservation made by
 * the control plane, v6pod's relay on both routers. The client runs in this process on a TAP
 * (harness/io) attached to hv1's cloudbr0 as a vnet port, exactly where a synthetic instance sits:
 * its frames reach the relays over the real bridges and the relays' replies come back to the TAP.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { loadPodFile, DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { namespaceName, uniqueRunName } from '../../harness/pod/names.ts';
import { BRIDGES, type Plan } from '../../harness/pod/plan.ts';
import { KEA_VALID_LIFETIME_S } from '../../harness/control/kea-config.ts';
import { run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { PodControl } from '../../harness/control/pod-control.ts';
import { openTap, type TapDevice } from '../../harness/io/tap.ts';
import { encodeDuid } from '../../harness/packet/dhcpv6.ts';
import { duidLl } from '../../harness/packet/dhcpv6-client-frame.ts';
import { formatMac } from '../../harness/addr/mac.ts';
import { linkLocalAddress } from '../../harness/addr/slaac.ts';
import { relayRoutes } from '../../harness/probe/dhcp.ts';
import { PdClient, type PdSnapshot } from '../../harness/synth/pd-client.ts';

/** A locally administered MAC of this run (02:5d:…). */
const freshMac = () => formatMac(Buffer.concat([Buffer.of(0x02, 0x5d), randomBytes(4)]));

describe('synthetic PD client against Kea and the relays in a real pod', function () {
  this.timeout(180_000);
  const runName = uniqueRunName('pdc');
  let plan: Plan;
  const taps: TapDevice[] = [];
  const clients: PdClient[] = [];

  /** A PD client on a fresh TAP port of hv1's bridge. */
  async function clientOn(port: string, mac: string, iaids: number[], duidMac = mac): Promise<PdClient> {
    const hv1 = namespaceName(runName, 'hv1');
    const tap = openTap(port, { netns: hv1 });
    taps.push(tap);
    await run(['ip', 'link', 'set', port, 'master', BRIDGES.hypervisor, 'up'], { ns: hv1 });
    const client = new PdClient({ mac, linkLocal: linkLocalAddress(mac), duid: encodeDuid(duidLl(duidMac)), iaids, send: (f) => void tap.send(f) });
    clients.push(client);
    tap.onFrames((frames) => {
      for (const f of frames) client.handleFrame(f);
    });
    return client;
  }

  const until = (client: PdClient, ok: (s: PdSnapshot) => boolean, what: string, timeoutMs = 20_000) =>
    waitUntil(() => (ok(client.snapshot()) ? client.snapshot() : undefined), {
      timeoutMs,
      what: () => `${what} (client: ${JSON.stringify(client.snapshot())})`,
    });

  /** The routes a router's relay installed via `via`, sorted. */
  const routesVia = async (via: string) =>
    Promise.all(
      plan.routers.map(async (r) =>
        (await relayRoutes(r))
          .filter((x) => x.via === via)
          .map((x) => x.prefix)
          .sort(),
      ),
    );

  before(async function () {
    // Security groups would only know the pod file's instances; this port is the test's own.
    ({ plan } = await up(loadPodFile(DEFAULT_POD_FILE), runName, { podFile: DEFAULT_POD_FILE, owner: process.pid, securityGroups: false }));
  });

  after(async function () {
    for (const c of clients) c.stop();
    for (const t of taps) t.close();
    if (process.env.V6POD_KEEP !== '1') await teardownRun(runName);
  });

  it('gets exactly the two prefixes reserved for its MAC (untrusted DUID), both routers route them via its link-local, Renew and Rebind keep them, Release removes them', async function () {
    const mac = freshMac();
    const ll = linkLocalAddress(mac);
    const control = await PodControl.open(plan, undefined);
    let reserved: string[];
    try {
      reserved = (await control.reserve([{ mac, count: 2 }]))[0]!.prefixes.slice().sort();
    } finally {
      await control.close();
    }
    expect(reserved).to.have.length(2);

    // A DUID of some other MAC: Kea must pick the reservation by the relay's option 37, not by the DUID.
    const client = await clientOn('pdvnet0', mac, [1, 2], freshMac());
    const bound = new Promise<void>((resolve) => client.once('bound', () => resolve()));
    client.start();
    await bound;
    const snap = await until(client, (s) => s.prefixes.length === 2, 'both IA_PDs bound');
    expect(snap.state).to.equal('bound');
    expect(snap.prefixes.map((p) => p.prefix).sort()).to.deep.equal(reserved);
    expect(snap.prefixes.map((p) => p.iaid).sort()).to.deep.equal([1, 2]);
    // Lifetime hints of 0 leave Kea's own lifetimes.
    for (const p of snap.prefixes) expect(p.validLifetime).to.equal(KEA_VALID_LIFETIME_S);
    expect(snap.status).to.equal(undefined);
    let held: string[][] = [];
    await waitUntil(async () => (held = await routesVia(ll)).every((routes) => JSON.stringify(routes) === JSON.stringify(reserved)), {
      timeoutMs: 15_000,
      what: () => `both routers to route ${reserved.join(', ')} via ${ll} (they hold ${JSON.stringify(held)})`,
    });

    // Renew (multicast, through the relays): the same prefixes with fresh lifetimes; the routes stay.
    const replies = snap.counters['received.reply']!;
    client.renew();
    expect(client.snapshot().state).to.equal('renewing');
    const renewed = await until(client, (s) => s.state === 'bound' && s.counters['received.reply']! > replies, 'the Renew Reply');
    expect(Math.min(...renewed.prefixes.map((p) => p.obtainedAt))).to.be.at.least(Math.max(...snap.prefixes.map((p) => p.obtainedAt)));
    expect(renewed.prefixes.map((p) => p.prefix).sort()).to.deep.equal(reserved);
    expect(renewed.counters['sent.renew']).to.be.at.least(1);
    for (const routes of await routesVia(ll)) expect(routes).to.deep.equal(reserved);
    // Rebind (no Server ID, any server may answer): Kea extends the same binding.
    const beforeRebind = renewed.counters['received.reply']!;
    client.rebind();
    expect(client.snapshot().state).to.equal('rebinding');
    const rebound = await until(client, (s) => s.state === 'bound' && s.counters['received.reply']! > beforeRebind, 'the Rebind Reply');
    expect(rebound.prefixes.map((p) => p.prefix).sort()).to.deep.equal(reserved);
    for (const routes of await routesVia(ll)) expect(routes).to.deep.equal(reserved);

    // Release: Kea's Reply completes it; the relays drop the routes.
    await client.release();
    const released = client.snapshot();
    expect(released.state).to.equal('released');
    expect(released.counters['received.reply']).to.be.at.least(4); // Request, Renew, Rebind, Release
    expect(released.counters['sent.release']).to.be.at.least(1);
    await waitUntil(async () => (await routesVia(ll)).every((held) => held.length === 0), { timeoutMs: 15_000, what: `no router to route anything via ${ll}` });
  });

  it('an unknown MAC gets NoPrefixAvail (seed: no prefix without a reservation) and no route, while a reserved one beside it is bound', async function () {
    const known = freshMac();
    const control = await PodControl.open(plan, undefined);
    let reserved: string[];
    try {
      reserved = (await control.reserve([{ mac: known, count: 1 }]))[0]!.prefixes;
    } finally {
      await control.close();
    }
    const unknownMac = freshMac();
    const unknown = await clientOn('pdvnet1', unknownMac, [1]);
    const positive = await clientOn('pdvnet2', known, [1]);
    unknown.start();
    positive.start();
    // The positive control: the same path and moment deliver a prefix to a reserved MAC.
    const bound = await until(positive, (s) => s.state === 'bound', 'the reserved MAC to be bound');
    expect(bound.prefixes.map((p) => p.prefix)).to.deep.equal(reserved);
    const refused = await until(unknown, (s) => s.status?.code === 6, 'NoPrefixAvail for the unknown MAC');
    expect(refused.status).to.deep.include({ iaid: 1, code: 6, name: 'NoPrefixAvail' });
    expect(refused.state).to.equal('soliciting');
    expect(refused.prefixes).to.deep.equal([]);
    expect(refused.counters['received.advertise']).to.be.at.least(1);
    expect(refused.counters['sent.request'] ?? 0).to.equal(0);
    for (const held of await routesVia(linkLocalAddress(unknownMac))) expect(held).to.deep.equal([]);
    await positive.release();
  });
});
