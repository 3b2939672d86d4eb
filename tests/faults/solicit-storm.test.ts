/**
 * A storm of ≥ 10,000 Solicits while a real client renews. The default pod; Kea's renew
 * and rebind timers set short on this run's Kea (config-set: T1 2 s, T2 30 s), so wide-dhcpv6's
 * dhcp6c in vm1 renews every 2 s; perfdhcp in client mode on the pod L2 (a namespace on the ToR
 * bridge, as bench/relay.ts runs it) sends Solicits as fast as it can, in back-to-back bursts,
 * until 10,000 are out and a Renew of dhcp6c's fell inside the storm.
 *
 * Pass (from a capture on vm1's port, Kea's lease, both routers and both relays' counters):
 *  - every Renew dhcp6c first sent during the storm is answered within its retransmission limits
 *    (RFC 8415 §18.2.4: before T2, when the client gives up renewing and rebinds — no Rebind seen);
 *  - the lease's expiry in Kea moved forward past the storm (lease6-get: cltt + valid lifetime);
 *  - both relays refreshed the route, which both routers hold via vm1's link-local;
 *  - each relay's counters account for the storm: every Solicit seen (multicast reaches both),
 *    each client message received relayed to the one server, each Relay-Reply delivered or
 *    dropped for a reason. What Kea could not take (its socket buffer) is reported.
 */
import { expect } from 'chai';
import { waitUntil } from '../../harness/os/wait.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPodFile } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import type { Plan } from '../../harness/pod/plan.ts';
import { run } from '../../harness/os/exec.ts';
import { udp6RcvbufErrors } from '../../harness/os/snmp6.ts';
import { keaCommand } from '../../harness/os/control-socket.ts';
import { KEA_VALID_LIFETIME_S, keaPaths } from '../../harness/control/kea-config.ts';
import { Capture, ProbeAgent, type CapturedFrame } from '../../harness/probe/agent-client.ts';
import { clearCurrentPod, setCurrentPod } from '../../harness/probe/pod-context.ts';
import { relayCounters, relayRoutes, reservedPrefixes, startDhcp6c, waitRoutesOnAllRouters } from '../../harness/probe/dhcp.ts';
import type { CounterSnapshot } from '../../harness/relay/counters.ts';
import { sideCounts } from './relay-fuzz.ts';
import { addTorPort } from './tor-port.ts';
import { DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';

const T1_S = 2;
const T2_S = 30;
const STORM = 10_000;
const BURST = 2_500;

interface Exchange {
  xid: number;
  type: string;
  /** µs timestamps of each transmission. */
  sent: number[];
  repliedAt?: number;
}

/** dhcp6c's exchanges seen on its port: transmissions per transaction id, and the Reply's arrival. */
function exchanges(frames: CapturedFrame[], mac: string): Exchange[] {
  const byXid = new Map<number, Exchange>();
  for (const f of frames) {
    const m = f.frame.dhcpv6;
    if (!m || m.type === 'unknown' || !('transactionId' in m)) continue;
    if (f.frame.ethernet.src === mac) {
      const e = byXid.get(m.transactionId) ?? { xid: m.transactionId, type: m.type, sent: [] };
      e.sent.push(f.timestampUs);
      byXid.set(m.transactionId, e);
    } else if (m.type === 'reply') {
      const e = byXid.get(m.transactionId);
      if (e && e.repliedAt === undefined) e.repliedAt = f.timestampUs;
    }
  }
  return [...byXid.values()];
}

async function perfdhcpBurst(ns: string, n: number): Promise<void> {
  // -i: Solicits only (no Request); -R: as many client DUIDs; a rate no run reaches: as fast as it can.
  await run(['perfdhcp', '-6', '-l', 'eth0', '-i', '-e', 'prefix-only', '-r', '1000000', '-n', String(n), '-R', String(n), '-d', '1'], {
    ns,
    allowFailure: true,
    timeoutMs: 60_000,
  });
}

/** UDP datagrams sent from the namespace so far: the storm's Solicits (perfdhcp is all that sends UDP there; its own report undercounts). */
async function udpSent(ns: string): Promise<number> {
  return Number(/^Udp6OutDatagrams\s+(\d+)/m.exec((await run(['cat', '/proc/net/snmp6'], { ns })).stdout)?.[1] ?? NaN);
}

describe('a storm of 10,000 Solicits while dhcp6c renews', function () {
  this.timeout(120_000);
  const pod = loadPodFile(DEFAULT_POD_FILE);
  const runName = uniqueRunName('storm');
  const dir = mkdtempSync(join(tmpdir(), 'storm-'));
  let plan: Plan;
  let dhcp6c: { stop(): Promise<void> } | undefined;
  let capture: Capture;
  let prefix: string;
  const kea = (command: string, args?: object) => keaCommand(keaPaths(runName).socket, command, args, 10_000);
  const lease = async () => {
    const l = (await kea('lease6-get', { 'ip-address': prefix.split('/')[0], type: 'IA_PD' })).arguments as { cltt: number; 'valid-lft': number } | undefined;
    return l ? l.cltt + l['valid-lft'] : undefined;
  };
  const keaDrops = () => udp6RcvbufErrors(plan.kea.ns);

  const storm = { sent: 0, startUs: 0, endUs: 0, bursts: 0 };
  let atStart: { counters: CounterSnapshot[]; expiry: number; keaDrops: number };
  let atEnd: { counters: CounterSnapshot[]; expiry: number; keaDrops: number };
  let renews: Exchange[] = [];

  before(async () => {
    ({ plan } = await up(pod, runName, { podFile: DEFAULT_POD_FILE, owner: process.pid }));
    setCurrentPod(plan, dir);
    // Short timers on this run's Kea only (its renew-timer of 1000 s would put no renewal in the test).
    const config = (await kea('config-get')).arguments as { Dhcp6: Record<string, unknown> };
    // config-get spells the inherited timers out on each subnet too: set them there as well.
    const timers = { 'renew-timer': T1_S, 'rebind-timer': T2_S };
    const subnets = (config.Dhcp6.subnet6 as Array<Record<string, unknown>>).map((s) => ({ ...s, ...timers }));
    const set = await kea('config-set', { Dhcp6: { ...config.Dhcp6, ...timers, subnet6: subnets } });
    expect(set.result, set.text).to.equal(0);
    const vm1 = plan.instances[0]!;
    prefix = (await reservedPrefixes(vm1))[0]!;
    capture = await Capture.start(vm1.ns, 'eth0', join(dir, 'vm1-dhcp.pcap'), 'udp port 546 or udp port 547');
    dhcp6c = startDhcp6c(vm1.ns, join(dir, 'dhcp6c'));
    await waitRoutesOnAllRouters([prefix], vm1.linkLocal, 20_000);
    // Positive control: dhcp6c renews (a Renew answered) before any storm.
    await capture.waitFor((fs) => exchanges(fs, vm1.mac).some((e) => e.type === 'renew' && e.repliedAt), 15_000, 'a Renew of dhcp6c answered before the storm');
    const stormNs = await addTorPort(plan, 'storm', '02:57:00:00:00:01');

    atStart = { counters: await Promise.all(plan.routers.map(relayCounters)), expiry: (await lease())!, keaDrops: await keaDrops() };
    storm.startUs = Date.now() * 1000;
    // Bursts back to back until 10,000 are out and a Renew was sent inside the storm.
    const renewInside = () => exchanges(capture.frames(), vm1.mac).some((e) => e.type === 'renew' && e.sent[0]! >= storm.startUs);
    const sentBefore = await udpSent(stormNs);
    while (storm.sent < STORM || !renewInside()) {
      await perfdhcpBurst(stormNs, BURST);
      storm.sent = (await udpSent(stormNs)) - sentBefore;
      storm.bursts++;
      if (storm.bursts > 40) break;
    }
    storm.endUs = Date.now() * 1000;
    renews = exchanges(capture.frames(), vm1.mac).filter((e) => e.type === 'renew' && e.sent[0]! >= storm.startUs && e.sent[0]! <= storm.endUs);
    // Each answered, or the client's limit (T2 after the lease's last renewal) passed.
    await capture
      .waitFor(
        (fs) => renews.every((r) => exchanges(fs, vm1.mac).find((e) => e.xid === r.xid)?.repliedAt),
        (T2_S - T1_S) * 1000,
        'every Renew sent during the storm to be answered',
      )
      .catch(() => undefined);
    renews = exchanges(capture.frames(), vm1.mac).filter((e) => renews.some((r) => r.xid === e.xid));
    // A loaded relay may still be working through the storm's backlog: its counters are read once it
    // has taken every Solicit from the LAN, or after 10 s (the check below then names what it lacks).
    await waitUntil(
      async () =>
        (await Promise.all(plan.routers.map(relayCounters))).every(
          (c, i) => sideCounts(c).clientSeen - sideCounts(atStart.counters[i]!).clientSeen >= storm.sent,
        ),
      { timeoutMs: 10_000, what: 'each relay to take the whole storm from the LAN' },
    ).catch(() => undefined);
    atEnd = { counters: await Promise.all(plan.routers.map(relayCounters)), expiry: (await lease())!, keaDrops: await keaDrops() };
    console.log(
      `      storm: ${storm.sent} Solicits in ${storm.bursts} bursts over ${((storm.endUs - storm.startUs) / 1e6).toFixed(1)} s; Kea dropped ${atEnd.keaDrops - atStart.keaDrops} for a full socket buffer; ` +
        `Renews in the storm: ${renews.map((r) => `xid ${r.xid} sent ${r.sent.length}x, answered ${r.repliedAt ? `after ${((r.repliedAt - r.sent[0]!) / 1000).toFixed(0)} ms` : 'never'}`).join('; ')}`,
    );
    plan.routers.forEach((r, i) => {
      const d = sideCounts(atEnd.counters[i]!);
      const b = sideCounts(atStart.counters[i]!);
      console.log(
        `      ${r.name}: received ${d.receivedClient - b.receivedClient} client messages, relayed ${d.forwarded - b.forwarded}, dropped ${d.clientSeen - d.receivedClient - (b.clientSeen - b.receivedClient)}; Relay-Replies ${d.receivedReplies - b.receivedReplies}, delivered ${d.delivered - b.delivered}`,
      );
    });
  });

  after(async () => {
    await dhcp6c?.stop().catch(() => undefined);
    await capture?.stop().catch(() => undefined);
    await ProbeAgent.closeShared();
    clearCurrentPod();
    await teardownRun(runName);
    rmSync(dir, { recursive: true, force: true });
  });

  it(`≥ ${STORM} Solicits were sent and at least one Renew of dhcp6c fell inside the storm`, () => {
    expect(storm.sent).to.be.at.least(STORM);
    expect(renews.length, 'Renews first sent during the storm').to.be.greaterThan(0);
  });

  it('each of those Renews was answered within its retransmission limits (before T2; no Rebind)', () => {
    for (const r of renews) {
      expect(r.repliedAt, `Renew xid ${r.xid} answered`).to.not.equal(undefined);
      expect((r.repliedAt! - r.sent[0]!) / 1e6, `Renew xid ${r.xid}: answered before T2`).to.be.below(T2_S - T1_S);
    }
    const rebinds = exchanges(capture.frames(), plan.instances[0]!.mac).filter((e) => e.type === 'rebind');
    expect(rebinds, 'dhcp6c never fell back to Rebind').to.deep.equal([]);
  });

  it("the lease's expiry in Kea moved forward past the storm", () => {
    expect(atEnd.expiry).to.be.greaterThan(atStart.expiry);
    expect(atEnd.expiry, 'renewed at or after the storm began (cltt + valid lifetime)').to.be.at.least(
      Math.floor(storm.startUs / 1e6) - 1 + KEA_VALID_LIFETIME_S,
    );
  });

  // Each relay forwards its own copy of the Renew; in the storm Kea may drop one copy for a full socket
  // buffer (counted above) and answer the other, so the relay that saw the answer refreshes the route
  // and the other keeps it until its valid lifetime runs out: at least one refresh, both still hold it.
  it('a relay refreshed the route with the Renew, and both routers still hold it via vm1', async () => {
    const vm1 = plan.instances[0]!;
    // A relay counts the refresh once its route batch is applied, after it delivered the Reply: under
    // the storm's backlog that can trail the Reply the client saw.
    let refreshed: number[] = [];
    const shown = () => plan.routers.map((r, i) => `${r.name} ${refreshed[i]}`).join(', ');
    await waitUntil(
      async () => {
        refreshed = (await Promise.all(plan.routers.map(relayCounters))).map((c, i) => c.routes.refreshed - atStart.counters[i]!.routes.refreshed);
        return refreshed.some((n) => n > 0);
      },
      { timeoutMs: 10_000, what: () => `a relay to refresh the route after the Renew's Reply (refreshed: ${shown()})` },
    );
    for (const r of plan.routers) {
      expect(
        (await relayRoutes(r)).filter((x) => x.prefix === prefix && x.via === vm1.linkLocal),
        `${r.name} routes ${prefix} via vm1`,
      ).to.have.length(1);
    }
  });

  it("each relay's counters account for the storm: every Solicit seen, every client message relayed, every Relay-Reply delivered or dropped", () => {
    const dhcp6cFrames = exchanges(capture.frames(), plan.instances[0]!.mac).reduce((n, e) => n + e.sent.length, 0);
    for (const [i, r] of plan.routers.entries()) {
      const a = sideCounts(atEnd.counters[i]!);
      const b = sideCounts(atStart.counters[i]!);
      const seen = a.clientSeen - b.clientSeen;
      expect(seen, `${r.name}: frames taken from the LAN`).to.be.within(storm.sent, storm.sent + dhcp6cFrames);
      expect(a.forwarded - b.forwarded, `${r.name}: client messages relayed`).to.equal(a.receivedClient - b.receivedClient);
      expect(a.receivedReplies - b.receivedReplies, `${r.name}: Relay-Replies delivered or dropped`).to.equal(
        a.delivered - b.delivered + (a.serverDropsAfter - b.serverDropsAfter),
      );
    }
  });
});
