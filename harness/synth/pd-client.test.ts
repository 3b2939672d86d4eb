/**
 * The synthetic instances' DHCPv6 PD client (RFC 8415 §18) against a scripted server on a fake
 * clock: every Advertise and Reply is built with the codec, every check reads the client's frames
 * back through the codec. Retransmission timing and limits are property-tested (§15, fixed seeds).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { buildFrame, decodeFrame } from '../packet/frame.ts';
import { DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT } from '../packet/constants.ts';
import { ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import {
  DHCPV6_STATUS_CODES,
  encodeDuid,
  findOption,
  findOptions,
  type ClientServerMessage,
  type Dhcpv6Message,
  type Dhcpv6Option,
  type OptionOf,
} from '../packet/dhcpv6.ts';
import { duidLl } from '../packet/dhcpv6-client-frame.ts';
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS, ALL_DHCP_RELAY_AGENTS_AND_SERVERS_MAC } from '../packet/constants.ts';
import { mutate } from '../packet/testing/mutate.ts';
import { prng } from '../os/prng.ts';
import { linkLocalAddress } from '../addr/slaac.ts';
import { FakeClock } from './testing/fake-clock.ts';
import { PdClient, SOL_MAX_DELAY_MS, type PdClientOptions, type PdPrefix } from './pd-client.ts';

const MAC = '06:7a:88:00:00:8b';
const LL = linkLocalAddress(MAC);
const DUID = encodeDuid(duidLl(MAC));
const ROUTER = { mac: '00:0c:db:f9:cf:00', ll: 'fe80::20c:dbff:fef9:cf00' };
const SERVER_ID: OptionOf<'server-id'> = {
  type: 'server-id',
  duid: { type: 'llt', hardwareType: 1, time: 700_000_000, linkLayerAddress: '02:ee:00:00:00:01' },
};
const OTHER_SERVER_ID: OptionOf<'server-id'> = {
  type: 'server-id',
  duid: { type: 'llt', hardwareType: 1, time: 700_000_000, linkLayerAddress: '02:ee:00:00:00:02' },
};
const P1 = '2001:db8:200::';
const P2 = '2001:db8:200:10::';
/** Kea's timers in the pod (netns/daemons/kea.ts). */
const KEA = { t1: 1000, t2: 2000, preferred: 3000, valid: 4000 };

type Grant = { iaid: number; prefixes?: string[]; status?: number; t1?: number; t2?: number; preferred?: number; valid?: number };

/** A client on a fake clock whose frames are kept with the time each was sent and its message decoded. */
function harness(over: Partial<PdClientOptions> = {}) {
  const clock = new FakeClock();
  const frames: Buffer[] = [];
  const messages: ClientServerMessage[] = [];
  const times: number[] = [];
  const record = (f: Buffer) => {
    frames.push(f);
    messages.push(decodeFrame(f).dhcpv6 as ClientServerMessage);
    times.push(clock.now());
  };
  const client = new PdClient({ mac: MAC, linkLocal: LL, duid: DUID, iaids: [1], send: record, clock, ...over });
  const events: Array<{ event: string; prefixes: PdPrefix[] }> = [];
  for (const event of ['bound', 'changed']) client.on(event, (prefixes: PdPrefix[]) => events.push({ event, prefixes }));
  const sent = () => messages;
  const last = () => messages.at(-1)!;
  return { clock, client, frames, messages, times, record, events, sent, last };
}

function iaPd(g: Grant): OptionOf<'ia-pd'> {
  const options: Dhcpv6Option[] = (g.prefixes ?? []).map((p) => ({
    type: 'iaprefix',
    preferredLifetime: g.preferred ?? KEA.preferred,
    validLifetime: g.valid ?? KEA.valid,
    prefixLength: 60,
    prefix: p,
    options: [],
  }));
  if (g.status !== undefined) options.push({ type: 'status-code', code: g.status, message: 'no prefixes for you' });
  return { type: 'ia-pd', iaid: g.iaid, t1: g.t1 ?? KEA.t1, t2: g.t2 ?? KEA.t2, options };
}

/** A server message for `to` (the client message it answers), as the relay delivers it: from the router, 547 → 546. */
function answer(
  to: ClientServerMessage,
  type: 'advertise' | 'reply',
  grants: Grant[],
  extra: { options?: Dhcpv6Option[]; xid?: number; clientId?: Dhcpv6Option | null; serverId?: OptionOf<'server-id'> | null } = {},
): Buffer {
  const clientId = extra.clientId === undefined ? findOption(to.options, 'client-id')! : extra.clientId;
  const serverId = extra.serverId === undefined ? SERVER_ID : extra.serverId;
  const options: Dhcpv6Option[] = [...(clientId ? [clientId] : []), ...(serverId ? [serverId] : []), ...grants.map(iaPd), ...(extra.options ?? [])];
  return serverFrame({ type, transactionId: extra.xid ?? to.transactionId, options });
}

function serverFrame(message: Dhcpv6Message): Buffer {
  return buildFrame({
    ethernet: { dst: MAC, src: ROUTER.mac, etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: ROUTER.ll, dst: LL },
    udp: { srcPort: DHCPV6_SERVER_PORT, dstPort: DHCPV6_CLIENT_PORT },
    dhcpv6: message,
  });
}

const preference = (value: number): Dhcpv6Option => ({ type: 'preference', value });
const prefixesOf = (m: ClientServerMessage) =>
  findOptions(m.options, 'ia-pd').flatMap((ia) => findOptions(ia.options, 'iaprefix').map((p) => `${ia.iaid} ${p.prefix}/${p.prefixLength}`));
const elapsedOf = (m: ClientServerMessage) => findOption(m.options, 'elapsed-time')!.centiseconds;

/** Runs Solicit → Advertise(255) → Request → Reply. */
function bind(h: ReturnType<typeof harness>, grants: Grant[]): void {
  h.client.start();
  expect(h.client.handleFrame(answer(h.last(), 'advertise', grants, { options: [preference(255)] }))).to.equal(true);
  expect(h.last().type).to.equal('request');
  expect(h.client.handleFrame(answer(h.last(), 'reply', grants))).to.equal(true);
}

describe('synthetic instance DHCPv6 PD client (RFC 8415 §18)', function () {
  describe('exchanges', function () {
    it('Solicit → Advertise (preference 255) → Request → Reply: bound with the delegated prefix', function () {
      const h = harness();
      h.client.start();
      expect(h.client.snapshot().state).to.equal('soliciting');
      // The Solicit on the wire: Ethernet and IPv6 multicast to the servers, from the instance, 546 → 547.
      const f = decodeFrame(h.frames[0]!);
      expect(f.ethernet).to.include({ src: MAC, dst: ALL_DHCP_RELAY_AGENTS_AND_SERVERS_MAC });
      expect(f.ipv6).to.include({ src: LL, dst: ALL_DHCP_RELAY_AGENTS_AND_SERVERS });
      expect(f.udp).to.deep.equal({ srcPort: DHCPV6_CLIENT_PORT, dstPort: DHCPV6_SERVER_PORT });
      expect(f.checksumStatus?.valid).to.equal(true);
      const solicit = f.dhcpv6 as ClientServerMessage;
      expect(solicit.type).to.equal('solicit');
      expect(encodeDuid(findOption(solicit.options, 'client-id')!.duid)).to.deep.equal(DUID);
      expect(elapsedOf(solicit)).to.equal(0);
      expect(findOption(solicit.options, 'oro')!.requested).to.include(82); // SOL_MAX_RT (§18.2.1 MUST)
      expect(findOption(solicit.options, 'server-id')).to.equal(undefined);
      expect(findOptions(solicit.options, 'ia-pd')).to.deep.equal([{ type: 'ia-pd', iaid: 1, t1: 0, t2: 0, options: [] }]);

      h.clock.advance(300);
      expect(h.client.handleFrame(answer(solicit, 'advertise', [{ iaid: 1, prefixes: [P1] }], { options: [preference(255)] }))).to.equal(true);
      // 255: no waiting for other Advertises.
      expect(h.frames).to.have.length(2);
      const request = h.last();
      expect(request.type).to.equal('request');
      expect(request.transactionId).to.not.equal(solicit.transactionId);
      expect(findOption(request.options, 'server-id')).to.deep.equal(SERVER_ID);
      expect(elapsedOf(request)).to.equal(0); // a new exchange
      expect(findOptions(request.options, 'ia-pd')).to.deep.equal([
        {
          type: 'ia-pd',
          iaid: 1,
          t1: 0,
          t2: 0,
          options: [{ type: 'iaprefix', preferredLifetime: 0, validLifetime: 0, prefixLength: 60, prefix: P1, options: [] }],
        },
      ]);
      expect(h.client.snapshot().state).to.equal('requesting');

      h.clock.advance(50);
      expect(h.client.handleFrame(answer(request, 'reply', [{ iaid: 1, prefixes: [P1] }]))).to.equal(true);
      const snap = h.client.snapshot();
      expect(snap.state).to.equal('bound');
      expect(snap.duid).to.equal(DUID.toString('hex'));
      expect(snap.prefixes).to.deep.equal([
        { iaid: 1, prefix: `${P1}/60`, preferredLifetime: KEA.preferred, validLifetime: KEA.valid, obtainedAt: h.clock.now() },
      ]);
      expect(snap.status).to.equal(undefined);
      expect(snap.counters).to.include({ 'sent.solicit': 1, 'received.advertise': 1, 'sent.request': 1, 'received.reply': 1 });
      expect(snap.counters.retransmissions).to.equal(undefined);
      expect(h.events.map((e) => e.event)).to.deep.equal(['changed', 'bound']);
      expect(h.events[1]!.prefixes.map((p) => p.prefix)).to.deep.equal([`${P1}/60`]);
    });

    it('two IA_PDs: one Solicit asks for both, both delegated prefixes are held', function () {
      const h = harness({ iaids: [1, 2] });
      h.client.start();
      expect(findOptions(h.last().options, 'ia-pd').map((ia) => ia.iaid)).to.deep.equal([1, 2]);
      const grants = [
        { iaid: 1, prefixes: [P1] },
        { iaid: 2, prefixes: [P2] },
      ];
      h.client.handleFrame(answer(h.last(), 'advertise', grants, { options: [preference(255)] }));
      expect(prefixesOf(h.last())).to.deep.equal([`1 ${P1}/60`, `2 ${P2}/60`]);
      h.client.handleFrame(answer(h.last(), 'reply', grants));
      expect(h.client.snapshot().prefixes.map((p) => `${p.iaid} ${p.prefix}`)).to.deep.equal([`1 ${P1}/60`, `2 ${P2}/60`]);
    });

    it('NoPrefixAvail in every IA (Kea, unknown MAC): the Advertise is ignored, the status recorded, Solicits go on', function () {
      const h = harness();
      h.client.start();
      const solicit = h.last();
      expect(
        h.client.handleFrame(answer(solicit, 'advertise', [{ iaid: 1, status: DHCPV6_STATUS_CODES.NoPrefixAvail }], { options: [preference(255)] })),
      ).to.equal(true);
      const snap = h.client.snapshot();
      expect(snap.state).to.equal('soliciting');
      expect(snap.prefixes).to.deep.equal([]);
      expect(snap.status).to.deep.equal({ iaid: 1, code: 6, name: 'NoPrefixAvail', message: 'no prefixes for you' });
      expect(snap.counters).to.include({ 'ignored.no-prefixes': 1, 'status.NoPrefixAvail': 1 });
      expect(h.sent().map((m) => m.type)).to.deep.equal(['solicit']);
      h.clock.advance(1100);
      // The same exchange retransmitted: same xid, Elapsed Time counting from the first Solicit.
      expect(h.sent().map((m) => m.type)).to.deep.equal(['solicit', 'solicit']);
      expect(h.last().transactionId).to.equal(solicit.transactionId);
      expect(elapsedOf(h.last())).to.be.within(100, 110);
      expect(h.events).to.deep.equal([]);
    });

    it('NoPrefixAvail in one of two IAs: the other is bound, the refused IA stays empty with its status', function () {
      const h = harness({ iaids: [1, 2] });
      bind(h, [
        { iaid: 1, prefixes: [P1] },
        { iaid: 2, status: DHCPV6_STATUS_CODES.NoPrefixAvail },
      ]);
      const snap = h.client.snapshot();
      expect(snap.state).to.equal('bound');
      expect(snap.prefixes.map((p) => p.iaid)).to.deep.equal([1]);
      expect(snap.status).to.include({ iaid: 2, code: 6, name: 'NoPrefixAvail' });
    });

    it('without preference 255, Advertises are collected for the first RT and the most preferred is requested', function () {
      const h = harness({ random: () => 0.5 });
      h.client.start();
      const solicit = h.last();
      h.client.handleFrame(answer(solicit, 'advertise', [{ iaid: 1, prefixes: [P1] }], { options: [preference(10)] }));
      h.client.handleFrame(answer(solicit, 'advertise', [{ iaid: 1, prefixes: [P2] }], { options: [preference(200)], serverId: OTHER_SERVER_ID }));
      h.client.handleFrame(answer(solicit, 'advertise', [{ iaid: 1, prefixes: [P1] }], { options: [preference(50)] }));
      expect(h.frames).to.have.length(1);
      h.clock.advance(999);
      expect(h.frames).to.have.length(1); // RT of the first Solicit is > IRT (RAND > 0)
      h.clock.advance(51); // RT = 1000 + 0.05·1000
      expect(h.last().type).to.equal('request');
      expect(findOption(h.last().options, 'server-id')).to.deep.equal(OTHER_SERVER_ID);
      expect(prefixesOf(h.last())).to.deep.equal([`1 ${P2}/60`]);
    });

    it('after the first RT, the first usable Advertise is requested at once', function () {
      const h = harness();
      h.client.start();
      h.clock.advance(1200);
      expect(h.sent().map((m) => m.type)).to.deep.equal(['solicit', 'solicit']);
      h.client.handleFrame(answer(h.last(), 'advertise', [{ iaid: 1, prefixes: [P1] }]));
      expect(h.last().type).to.equal('request');
    });

    it('Renew at T1 (multicast, with the Server ID), Rebind at T2 (without), the Reply refreshes the lifetimes', function () {
      const h = harness();
      bind(h, [{ iaid: 1, prefixes: [P1] }]);
      const boundAt = h.clock.now();
      const before = h.frames.length;
      h.clock.advance(KEA.t1 * 1000 - 1);
      expect(h.frames.length).to.equal(before);
      h.clock.advance(1);
      const renew = h.last();
      expect(renew.type).to.equal('renew');
      expect(h.client.snapshot().state).to.equal('renewing');
      expect(decodeFrame(h.frames.at(-1)!).ipv6!.dst).to.equal(ALL_DHCP_RELAY_AGENTS_AND_SERVERS);
      expect(findOption(renew.options, 'server-id')).to.deep.equal(SERVER_ID);
      expect(prefixesOf(renew)).to.deep.equal([`1 ${P1}/60`]);
      // No answer: Renew is retransmitted until T2, then Rebind takes over.
      h.clock.advance((KEA.t2 - KEA.t1) * 1000 - 1);
      const renews = h.sent().filter((m) => m.type === 'renew');
      expect(renews.length).to.be.greaterThan(3);
      expect(new Set(renews.map((m) => m.transactionId)).size).to.equal(1);
      expect(h.sent().some((m) => m.type === 'rebind')).to.equal(false);
      h.clock.advance(1);
      const rebind = h.last();
      expect(rebind.type).to.equal('rebind');
      expect(h.clock.now() - boundAt).to.equal(KEA.t2 * 1000);
      expect(findOption(rebind.options, 'server-id')).to.equal(undefined);
      expect(prefixesOf(rebind)).to.deep.equal([`1 ${P1}/60`]);
      expect(h.client.snapshot().state).to.equal('rebinding');
      // Another server answers the Rebind: the binding moves to it, lifetimes start again.
      h.clock.advance(5000);
      h.client.handleFrame(answer(rebind, 'reply', [{ iaid: 1, prefixes: [P1] }], { serverId: OTHER_SERVER_ID }));
      const snap = h.client.snapshot();
      expect(snap.state).to.equal('bound');
      expect(snap.prefixes[0]!.obtainedAt).to.equal(h.clock.now());
      h.clock.advance(KEA.t1 * 1000);
      expect(findOption(h.last().options, 'server-id')).to.deep.equal(OTHER_SERVER_ID);
      // Lifetime refreshes are no prefix change: only the first bind told the host.
      expect(h.events.map((e) => e.event)).to.deep.equal(['changed', 'bound']);
    });

    it('renew() and rebind() start their exchange at once; without a binding they throw', function () {
      const h = harness();
      expect(() => h.client.renew()).to.throw(/no binding to renew/);
      bind(h, [{ iaid: 1, prefixes: [P1] }]);
      h.client.renew();
      expect(h.last().type).to.equal('renew');
      h.client.handleFrame(answer(h.last(), 'reply', [{ iaid: 1, prefixes: [P1] }]));
      expect(h.client.snapshot().state).to.equal('bound');
      h.client.rebind();
      expect(h.last().type).to.equal('rebind');
    });

    it('a Renew Reply withdrawing a prefix (valid lifetime 0) drops it and says so', function () {
      const h = harness({ iaids: [1, 2] });
      bind(h, [
        { iaid: 1, prefixes: [P1] },
        { iaid: 2, prefixes: [P2] },
      ]);
      h.client.renew();
      h.client.handleFrame(
        answer(h.last(), 'reply', [
          { iaid: 1, prefixes: [P1] },
          { iaid: 2, prefixes: [P2], preferred: 0, valid: 0 },
        ]),
      );
      expect(h.client.snapshot().prefixes.map((p) => p.prefix)).to.deep.equal([`${P1}/60`]);
      expect(h.events.at(-1)).to.deep.include({ event: 'changed' });
      expect(h.events.at(-1)!.prefixes.map((p) => p.prefix)).to.deep.equal([`${P1}/60`]);
    });

    it('NoBinding for an IA in a Renew Reply sends a Request for it', function () {
      const h = harness();
      bind(h, [{ iaid: 1, prefixes: [P1] }]);
      h.client.renew();
      h.client.handleFrame(answer(h.last(), 'reply', [{ iaid: 1, status: DHCPV6_STATUS_CODES.NoBinding }]));
      expect(h.last().type).to.equal('request');
      expect(prefixesOf(h.last())).to.deep.equal([`1 ${P1}/60`]);
      expect(h.client.snapshot().prefixes).to.have.length(1);
    });

    it('with no answer at all, the prefix is dropped when its valid lifetime ends and discovery starts again', function () {
      const h = harness();
      bind(h, [{ iaid: 1, prefixes: [P1] }]);
      h.clock.advance(KEA.valid * 1000 - 1);
      expect(h.client.snapshot().prefixes).to.have.length(1);
      expect(h.client.snapshot().state).to.equal('rebinding');
      h.clock.advance(1);
      const snap = h.client.snapshot();
      expect(snap.prefixes).to.deep.equal([]);
      expect(snap.state).to.equal('soliciting');
      expect(snap.counters.expired).to.equal(1);
      expect(h.last().type).to.equal('solicit');
      expect(h.events.at(-1)).to.deep.equal({ event: 'changed', prefixes: [] });
    });

    it("T1/T2 of 0 are the client's: 0.5 and 0.8 of the shortest preferred lifetime (§21.21)", function () {
      const h = harness();
      bind(h, [{ iaid: 1, prefixes: [P1], t1: 0, t2: 0, preferred: 100, valid: 200 }]);
      const n = h.frames.length;
      h.clock.advance(49_999);
      expect(h.frames.length).to.equal(n);
      h.clock.advance(1);
      expect(h.last().type).to.equal('renew');
      h.clock.advance(30_000);
      expect(h.last().type).to.equal('rebind');
    });

    it('an IA_PD with T1 > T2 is discarded (§21.21); preferred > valid discards the prefix (§21.22)', function () {
      const h = harness({ iaids: [1, 2], random: () => 0 });
      h.client.start();
      h.client.handleFrame(
        answer(
          h.last(),
          'advertise',
          [
            { iaid: 1, prefixes: [P1] },
            { iaid: 2, prefixes: [P2] },
          ],
          { options: [preference(255)] },
        ),
      );
      const request = h.last();
      expect(request.type).to.equal('request');
      h.client.handleFrame(
        answer(request, 'reply', [
          { iaid: 1, prefixes: [P1], t1: 3000, t2: 2000 },
          { iaid: 2, prefixes: [P2], preferred: 5000, valid: 4000 },
        ]),
      );
      // Nothing usable: no binding, no 'bound', and discovery again only after a backoff (no fast loop).
      expect(h.client.snapshot()).to.deep.include({ state: 'failed', prefixes: [] });
      expect(h.events).to.deep.equal([]);
      const n = h.messages.length;
      h.clock.advance(999);
      expect(h.messages.length).to.equal(n);
      h.clock.advance(1);
      expect(h.last().type).to.equal('solicit');
      expect(h.client.snapshot().state).to.equal('soliciting');
    });

    it('infinite lifetimes (0xffffffff) and lifetimes beyond a Node timer never fire early', function () {
      const h = harness({ iaids: [1, 2] });
      bind(h, [
        { iaid: 1, prefixes: [P1], t1: 0xffffffff, t2: 0xffffffff, preferred: 0xffffffff, valid: 0xffffffff },
        { iaid: 2, prefixes: [P2], t1: 3_000_000, t2: 4_000_000, preferred: 5_000_000, valid: 6_000_000 },
      ]);
      const n = h.frames.length;
      h.clock.advance(2_999_999 * 1000);
      expect(h.frames.length).to.equal(n);
      expect(h.client.snapshot().prefixes).to.have.length(2);
      h.clock.advance(1000);
      expect(h.last().type).to.equal('renew');
      h.clock.advance(3_000_000 * 1000);
      // iaid 2 expired, iaid 1 never does.
      expect(h.client.snapshot().prefixes.map((p) => p.iaid)).to.deep.equal([1]);
    });

    it('Release: the prefixes are given up at once, the Release carries them, the Reply completes it', async function () {
      const h = harness({ iaids: [1, 2] });
      bind(h, [
        { iaid: 1, prefixes: [P1] },
        { iaid: 2, prefixes: [P2] },
      ]);
      const done = h.client.release();
      expect(h.client.snapshot()).to.deep.include({ state: 'releasing', prefixes: [] });
      expect(h.events.at(-1)).to.deep.equal({ event: 'changed', prefixes: [] });
      const release = h.last();
      expect(release.type).to.equal('release');
      expect(findOption(release.options, 'server-id')).to.deep.equal(SERVER_ID);
      expect(prefixesOf(release)).to.deep.equal([`1 ${P1}/60`, `2 ${P2}/60`]);
      expect(h.client.handleFrame(answer(release, 'reply', [], { options: [{ type: 'status-code', code: 0, message: '' }] }))).to.equal(true);
      await done;
      expect(h.client.snapshot().state).to.equal('released');
      // Nothing more: no renewals of released prefixes.
      const n = h.frames.length;
      h.clock.advance(KEA.valid * 1000);
      expect(h.frames.length).to.equal(n);
    });

    it('stop(): no timer left, nothing more sent, frames no longer taken', function () {
      const h = harness();
      bind(h, [{ iaid: 1, prefixes: [P1] }]);
      h.client.renew();
      const renew = h.last();
      h.client.stop();
      const n = h.frames.length;
      h.clock.advance(10 * KEA.valid * 1000);
      expect(h.frames.length).to.equal(n);
      expect(h.client.handleFrame(answer(renew, 'reply', [{ iaid: 1, prefixes: [P1] }]))).to.equal(false);
    });

    it('a send that throws (full TAP queue) is counted and covered by the retransmission', function () {
      let fail = true;
      const h = harness();
      const client = new PdClient({
        mac: MAC,
        linkLocal: LL,
        duid: DUID,
        iaids: [1],
        clock: h.clock,
        send: (f) => {
          if (fail) {
            fail = false;
            throw new Error('EAGAIN');
          }
          h.record(f);
        },
      });
      client.start();
      expect(client.snapshot().counters['send-errors']).to.equal(1);
      h.clock.advance(1200);
      expect(h.sent().map((m) => m.type)).to.deep.equal(['solicit']);
    });
  });

  describe('retransmission (§15)', function () {
    /** Advances the clock by `forMs`; the `type` messages sent meanwhile: when (ms after `start`), Elapsed Time, xid. */
    function transmissions(h: ReturnType<typeof harness>, type: string, start: number, forMs: number) {
      const n = h.messages.length;
      h.clock.advance(forMs);
      return h.messages.slice(n).flatMap((m, i) => (m.type === type ? [{ at: h.times[n + i]! - start, elapsed: elapsedOf(m), xid: m.transactionId }] : []));
    }

    it('the first Solicit waits a random time up to SOL_MAX_DELAY when asked (RFC 8415 §18.2.1), then retransmits from there', function () {
      const h = harness({ firstSolicitDelayMs: SOL_MAX_DELAY_MS, random: () => 0.5 });
      h.client.start();
      h.clock.advance(499);
      expect(h.messages, 'nothing before the drawn delay').to.deep.equal([]);
      h.clock.advance(1);
      expect(h.messages.map((m) => m.type)).to.deep.equal(['solicit']);
      expect(elapsedOf(h.last()), 'Elapsed Time counts from the first Solicit sent').to.equal(0);
      h.client.stop();
      h.clock.advance(10_000);
      expect(
        h.messages.map((m) => m.type),
        'stop() cancels everything',
      ).to.deep.equal(['solicit']);
    });

    it('Solicit: RT from IRT 1 s doubling with ±10 % jitter up to SOL_MAX_RT 3600 s, never giving up; Elapsed Time from the first', function () {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
          const rng = prng(seed);
          const h = harness({ random: rng.next });
          h.client.start();
          const start = h.clock.now();
          const times = [0, ...transmissions(h, 'solicit', start, 6 * 3600_000).map((t) => t.at)];
          const gaps = times.slice(1).map((t, i) => t - times[i]!);
          expect(gaps[0]).to.be.within(1000, 1100); // first RT: RAND > 0
          for (let i = 1; i < gaps.length; i++) {
            const prev = gaps[i - 1]!;
            const g = gaps[i]!;
            // 2·RT ± 0.1·RT, or MRT ± 10 % once capped (10 ms steps of the test's clock).
            const doubled = g >= 1.9 * prev - 10 && g <= 2.1 * prev + 10;
            const capped = g >= 3240_000 - 10 && g <= 3960_000 + 10;
            expect(doubled || capped, `gap ${i}: ${g} after ${prev}`).to.equal(true);
          }
          expect(gaps.at(-1)).to.be.within(3240_000 - 10, 3960_000 + 10);
          expect(h.client.snapshot().counters.retransmissions).to.equal(gaps.length);
          return true;
        }),
        { seed: 8415, numRuns: 15 },
      );
    });

    it("Elapsed Time is the time since the exchange's first message in 1/100 s, saturating at 0xffff", function () {
      const h = harness({ random: prng(1).next });
      h.client.start();
      const start = h.clock.now();
      const seen = transmissions(h, 'solicit', start, 3 * 3600_000);
      for (const t of seen) expect(t.elapsed).to.equal(Math.min(0xffff, Math.round(t.at / 10)));
      expect(seen.at(-1)!.elapsed).to.equal(0xffff);
      expect(new Set(seen.map((t) => t.xid)).size).to.equal(1);
    });

    it('Request: REQ_MAX_RC 10 transmissions (RT doubling from 1 s, capped at 30 s), then discovery again', function () {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
          const h = harness({ random: prng(seed).next });
          h.client.start();
          h.client.handleFrame(answer(h.last(), 'advertise', [{ iaid: 1, prefixes: [P1] }], { options: [preference(255)] }));
          const start = h.clock.now();
          const seen = transmissions(h, 'request', start, 400_000);
          expect(seen.length).to.equal(10 - 1); // REQ_MAX_RC: 10 Requests in all
          const times = [0, ...seen.map((t) => t.at)];
          const gaps = times.slice(1).map((t, i) => t - times[i]!);
          expect(gaps[0]).to.be.within(900 - 10, 1100 + 10);
          for (const g of gaps) expect(g).to.be.at.most(33_000 + 10);
          expect(h.client.snapshot().state).to.equal('soliciting');
          const solicits = h.sent().filter((m) => m.type === 'solicit');
          expect(solicits.length).to.be.greaterThan(1);
          expect(solicits.at(-1)!.transactionId).to.not.equal(solicits[0]!.transactionId);
          return true;
        }),
        { seed: 3315, numRuns: 15 },
      );
    });

    it('Release: REL_MAX_RC 4 transmissions from REL_TIMEOUT 1 s, then release() resolves without a Reply', async function () {
      const h = harness({ random: prng(7).next });
      bind(h, [{ iaid: 1, prefixes: [P1] }]);
      let resolved = false;
      const done = h.client.release().then(() => (resolved = true));
      const start = h.clock.now();
      const seen = transmissions(h, 'release', start, 60_000);
      await done;
      expect(resolved).to.equal(true);
      expect(seen.length + 1).to.equal(4); // REL_MAX_RC
      expect(seen[0]!.at).to.be.within(900, 1110);
      expect(h.client.snapshot().state).to.equal('released');
    });

    it('Renew: REN_TIMEOUT 10 s doubling to REN_MAX_RT 600 s; Rebind likewise, until the valid lifetime ends', function () {
      const h = harness({ random: prng(11).next, iaids: [1] });
      bind(h, [{ iaid: 1, prefixes: [P1], t1: 10_000, t2: 20_000, preferred: 30_000, valid: 40_000 }]);
      h.clock.advance(10_000_000);
      const start = h.clock.now();
      // Renew from T1 to T2, then Rebind to the end of the valid lifetime.
      const renews = [0, ...transmissions(h, 'renew', start, 30_000_000).map((t) => t.at)];
      const gaps = renews.slice(1).map((t, i) => t - renews[i]!);
      expect(gaps[0]).to.be.within(9000 - 100, 11000 + 100);
      expect(Math.max(...gaps)).to.be.within(540_000 - 100, 660_000 + 100);
      const rebinds = h.messages.flatMap((m, i) => (m.type === 'rebind' ? [h.times[i]! - start] : []));
      expect(rebinds[0]).to.equal(10_000_000);
      const rebindGaps = rebinds.slice(1).map((t, i) => t - rebinds[i]!);
      expect(rebindGaps[0]).to.be.within(9000, 11000);
      expect(Math.max(...rebindGaps)).to.be.within(540_000, 660_000);
      expect(h.client.snapshot().state).to.equal('soliciting');
    });

    it('SOL_MAX_RT from the server (§21.24) caps the Solicit backoff', function () {
      const h = harness({ random: () => 0.5 });
      h.client.start();
      // An Advertise without prefixes still carries SOL_MAX_RT, which the client must take.
      h.client.handleFrame(
        answer(h.last(), 'advertise', [{ iaid: 1, status: 6 }], { options: [{ type: 'unknown', optionCode: 82, data: Buffer.from([0, 0, 0, 60]) }] }),
      );
      const start = h.clock.now();
      const times = [0, ...transmissions(h, 'solicit', start, 600_000).map((t) => t.at)];
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      expect(Math.max(...gaps)).to.be.within(60_000, 60_000 + 10);
    });
  });

  describe('what it ignores', function () {
    it('wrong transaction id, wrong or missing Client ID, missing Server ID, Reconfigure: counted, no state change', function () {
      const h = harness();
      h.client.start();
      const solicit = h.last();
      const grants = [{ iaid: 1, prefixes: [P1] }];
      const opts = [preference(255)];
      expect(h.client.handleFrame(answer(solicit, 'advertise', grants, { options: opts, xid: solicit.transactionId ^ 1 }))).to.equal(false);
      expect(
        h.client.handleFrame(answer(solicit, 'advertise', grants, { options: opts, clientId: { type: 'client-id', duid: duidLl('02:00:00:00:00:99') } })),
      ).to.equal(false);
      expect(h.client.handleFrame(answer(solicit, 'advertise', grants, { options: opts, clientId: null }))).to.equal(false);
      expect(h.client.handleFrame(answer(solicit, 'advertise', grants, { options: opts, serverId: null }))).to.equal(true);
      expect(
        h.client.handleFrame(
          serverFrame({
            type: 'reconfigure',
            transactionId: 0,
            options: [findOption(solicit.options, 'client-id')!, SERVER_ID, { type: 'unknown', optionCode: 19, data: Buffer.of(5) }],
          }),
        ),
      ).to.equal(false);
      // A Reply is no answer to a Solicit (this client sends no Rapid Commit).
      expect(h.client.handleFrame(answer(solicit, 'reply', grants))).to.equal(true);
      const snap = h.client.snapshot();
      expect(snap.state).to.equal('soliciting');
      expect(h.frames).to.have.length(1);
      expect(snap.counters).to.include({
        ignored: 6,
        'ignored.xid': 1,
        'ignored.client-id': 2,
        'ignored.server-id': 1,
        'ignored.reconfigure': 1,
        'ignored.unexpected': 1,
      });
      // The genuine Advertise still works.
      expect(h.client.handleFrame(answer(solicit, 'advertise', grants, { options: opts }))).to.equal(true);
      expect(h.last().type).to.equal('request');
    });

    it('frames that are not DHCPv6 to port 546 are passed over without counting', function () {
      const h = harness();
      h.client.start();
      const echo = buildFrame({
        ethernet: { dst: MAC, src: ROUTER.mac, etherType: ETHERTYPE_IPV6 },
        ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: ROUTER.ll, dst: LL },
        icmpv6: { type: 'echo-request', code: 0, identifier: 1, sequence: 1, data: Buffer.alloc(4) },
      });
      const otherPort = buildFrame({
        ethernet: { dst: MAC, src: ROUTER.mac, etherType: ETHERTYPE_IPV6 },
        ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: ROUTER.ll, dst: LL },
        udp: { srcPort: 1000, dstPort: 2000 },
        payload: Buffer.alloc(8),
      });
      for (const f of [echo, otherPort, Buffer.alloc(0), Buffer.from('0806', 'hex')]) expect(h.client.handleFrame(f)).to.equal(false);
      expect(h.client.snapshot().counters).to.deep.equal({ 'sent.solicit': 1 });
    });

    it('a bad UDP checksum or a truncated message to port 546 is counted malformed', function () {
      const h = harness();
      h.client.start();
      const good = answer(h.last(), 'advertise', [{ iaid: 1, prefixes: [P1] }], { options: [preference(255)] });
      const badSum = Buffer.from(good);
      badSum[good.length - 1]! ^= 0xff;
      expect(h.client.handleFrame(badSum)).to.equal(false);
      expect(h.client.handleFrame(good.subarray(0, good.length - 3))).to.equal(false);
      expect(h.client.snapshot().counters).to.include({ malformed: 2 });
      expect(h.frames).to.have.length(1);
    });

    it('mutated server frames never throw and never bind to anything but a valid answer (fixed seeds)', function () {
      for (const seed of [1, 2, 3]) {
        const rng = prng(seed);
        const h = harness({ iaids: [1, 2] });
        h.client.start();
        const solicit = h.last();
        const corpus = [
          answer(
            solicit,
            'advertise',
            [
              { iaid: 1, prefixes: [P1] },
              { iaid: 2, status: 6 },
            ],
            { options: [preference(255)] },
          ),
          answer(solicit, 'reply', [{ iaid: 1, prefixes: [P1] }]),
          answer(solicit, 'advertise', [{ iaid: 2, prefixes: [P2] }], { options: [preference(3)] }),
        ];
        let accepted = 0;
        for (let i = 0; i < 3000; i++) {
          const mutant = mutate(rng.pick(corpus), rng, corpus);
          let took = false;
          expect(() => (took = h.client.handleFrame(mutant)), `mutant ${mutant.toString('hex')}`).to.not.throw();
          if (took) accepted++;
          // Only a decodable answer from this exchange's xid can move the client on.
          if (h.client.snapshot().state !== 'soliciting') {
            const f = decodeFrame(mutant);
            expect((f.dhcpv6 as ClientServerMessage).transactionId).to.equal(solicit.transactionId);
            break;
          }
        }
        const c = h.client.snapshot().counters;
        expect(c.malformed ?? 0).to.be.greaterThan(0);
        expect(accepted).to.be.greaterThan(0);
      }
    });
  });

  it('a thousand clients in one process: Solicit to bound for all (cheap enough to run in a unit test)', function () {
    const clock = new FakeClock();
    const clients = Array.from({ length: 1000 }, (_, i) => {
      const mac = `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
      const out: Buffer[] = [];
      const client = new PdClient({ mac, linkLocal: linkLocalAddress(mac), duid: encodeDuid(duidLl(mac)), iaids: [1], send: (f) => out.push(f), clock });
      return { client, out };
    });
    for (const c of clients) c.client.start();
    const step = (type: 'advertise' | 'reply') =>
      clients.forEach((c, i) => {
        const m = decodeFrame(c.out.at(-1)!).dhcpv6 as ClientServerMessage;
        const prefix = `2001:db8:2${(i >> 8).toString(16).padStart(2, '0')}:${((i & 0xff) << 4).toString(16)}::`;
        c.client.handleFrame(answer(m, type, [{ iaid: 1, prefixes: [prefix] }], { options: [preference(255)] }));
      });
    step('advertise');
    step('reply');
    expect(clients.every((c) => c.client.snapshot().state === 'bound')).to.equal(true);
    expect(new Set(clients.map((c) => c.client.snapshot().prefixes[0]!.prefix)).size).to.equal(1000);
  });
});
