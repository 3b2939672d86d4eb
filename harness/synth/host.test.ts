/**
 * The emulated host against a fake link and a fake clock: DAD (RFC 4862 §5.4, RFC 4429), RS and
 * SLAAC from RAs (RFC 4861 §6.3.7, RFC 4862 §5.5.3), NS answers, echo replies, malformed frames.
 * Frames are built and read with the packet codecs, so every check is on wire-level fields.
 */
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { buildFrame, type DecodedFrame } from '../packet/frame.ts';
import { mldQuery } from '../packet/builders.ts';
import { ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import type { Icmpv6Message } from '../packet/icmpv6.ts';
import type { NdOption } from '../packet/nd-options.ts';
import { maxResponseDelayMs, SyntheticHost, type DadMode } from './host.ts';
import { FakeClock } from './testing/fake-clock.ts';
import { FakeLink } from './testing/fake-link.ts';
import { mutate, randomFrame } from '../packet/testing/mutate.ts';
import { prng } from '../os/prng.ts';
import { multicastMac, solicitedNodeAddress } from '../addr/multicast.ts';
import { ipv6ToBytes } from '../addr/bytes.ts';
import type { DhcpClient, DhcpClientOptions, DhcpSnapshot } from './dhcp-client.ts';

// CloudStack's EUI-64 test vector (fixtures/pods/default.yaml vm1).
const MAC = '06:7a:88:00:00:8b';
const LL = 'fe80::47a:88ff:fe00:8b';
const POD = '2001:db8:100::';
const SLAAC = '2001:db8:100:0:47a:88ff:fe00:8b';
// The seed's routers.
const R1 = { mac: '00:0c:db:f9:cf:00', ll: 'fe80::20c:dbff:fef9:cf00' };
const R2 = { mac: '00:12:f2:9c:33:00', ll: 'fe80::212:f2ff:fe9c:3300' };
const OTHER_MAC = '02:00:00:00:00:99';
const CORE = 'fd76:3670:ffff::1';

function icmp(srcMac: string, dstMac: string, src: string, dst: string, icmpv6: Icmpv6Message, hopLimit = 255): Buffer {
  return buildFrame({ ethernet: { src: srcMac, dst: dstMac, etherType: ETHERTYPE_IPV6 }, ipv6: { trafficClass: 0, flowLabel: 0, hopLimit, src, dst }, icmpv6 });
}

function ra(
  router: { mac: string; ll: string },
  opts: { lifetime?: number; valid?: number; preferred?: number; prefix?: string; prefixLength?: number } = {},
): Buffer {
  const options: NdOption[] = [
    { type: 'source-link-layer-address', address: router.mac },
    {
      type: 'prefix-information',
      prefixLength: opts.prefixLength ?? 64,
      onLink: true,
      autonomous: true,
      otherFlags: 0,
      validLifetime: opts.valid ?? 86400,
      preferredLifetime: opts.preferred ?? 14400,
      prefix: opts.prefix ?? POD,
    },
  ];
  return icmp(router.mac, '33:33:00:00:00:01', router.ll, 'ff02::1', {
    type: 'router-advertisement',
    code: 0,
    curHopLimit: 64,
    managed: false,
    other: false,
    homeAgent: false,
    preference: 'medium',
    proxy: false,
    reserved: 0,
    routerLifetime: opts.lifetime ?? 1800,
    reachableTime: 0,
    retransTimer: 0,
    options,
  });
}

function ns(srcMac: string, src: string, target: string, sllao = src !== '::'): Buffer {
  const sn = solicitedNodeAddress(target);
  return icmp(srcMac, multicastMac(sn), src, sn, {
    type: 'neighbor-solicitation',
    code: 0,
    target,
    options: sllao ? [{ type: 'source-link-layer-address', address: srcMac }] : [],
  });
}

function na(srcMac: string, target: string): Buffer {
  return icmp(srcMac, '33:33:00:00:00:01', target, 'ff02::1', {
    type: 'neighbor-advertisement',
    code: 0,
    router: false,
    solicited: false,
    override: true,
    reserved: 0,
    target,
    options: [{ type: 'target-link-layer-address', address: srcMac }],
  });
}

function echo(srcMac: string, src: string, dst: string, sequence = 1): Buffer {
  return icmp(srcMac, MAC, src, dst, { type: 'echo-request', code: 0, identifier: 0x1234, sequence, data: Buffer.from('ping') }, 63);
}

const icmpType = (f: DecodedFrame) => f.icmpv6?.type;

function setup(dad: DadMode = 'full', extra: Partial<ConstructorParameters<typeof SyntheticHost>[1]> = {}) {
  const link = new FakeLink();
  const clock = new FakeClock();
  const host = new SyntheticHost(link, { name: 'vm1', mac: MAC, port: 'vnet0', dad, clock, random: () => 0.5, ...extra });
  host.start();
  return { link, clock, host };
}

/** Up with both routers advertising, DAD done on both addresses; the sent frames cleared. */
function configured(dad: DadMode = 'full') {
  const s = setup(dad);
  s.clock.advance(1000); // link-local DAD
  s.link.deliver(ra(R1));
  s.link.deliver(ra(R2));
  s.clock.advance(1000); // SLAAC DAD
  s.link.take();
  return s;
}

describe('synthetic host', () => {
  describe('link-local and DAD', () => {
    it('probes its EUI-64 link-local from :: to the solicited-node group, then uses it after RetransTimer', () => {
      const { link, clock, host } = setup('full');
      const [join, probe] = link.take();
      // RFC 4862 §5.4.2: the solicited-node group joined (MLDv2, Router Alert, from ::) before the probe.
      expect(join!.ipv6).to.include({ src: '::', dst: 'ff02::16', hopLimit: 1 });
      expect(join!.extensions).to.deep.equal([
        {
          type: 'hop-by-hop',
          options: [
            { optionType: 5, data: Buffer.of(0, 0) },
            { optionType: 1, data: Buffer.alloc(0) },
          ],
        },
      ]);
      expect(join!.icmpv6).to.deep.include({
        type: 'mld2-report',
        records: [{ recordType: 4, auxData: Buffer.alloc(0), multicastAddress: 'ff02::1:ff00:8b', sources: [] }],
      });
      expect(probe!.ethernet).to.include({ src: MAC, dst: '33:33:ff:00:00:8b' });
      expect(probe!.ipv6).to.include({ src: '::', dst: 'ff02::1:ff00:8b', hopLimit: 255 });
      expect(probe!.icmpv6).to.include({ type: 'neighbor-solicitation', target: LL });
      expect((probe!.icmpv6 as { options: NdOption[] }).options.map((o) => o.type)).to.deep.equal(['nonce']);
      expect(host.snapshot().linkLocal).to.deep.equal({ address: LL, state: 'tentative' });
      clock.advance(999);
      expect(host.snapshot().linkLocal.state).to.equal('tentative');
      expect(link.take()).to.have.length(0); // no RS from a tentative address
      clock.advance(1);
      expect(host.snapshot().linkLocal.state).to.equal('preferred');
      const [report, rs] = link.take();
      expect(report!.ipv6).to.include({ src: LL, dst: 'ff02::16' });
      expect(rs!.ipv6).to.include({ src: LL, dst: 'ff02::2', hopLimit: 255 });
      expect(rs!.icmpv6).to.deep.include({ type: 'router-solicitation', options: [{ type: 'source-link-layer-address', address: MAC }] });
    });

    it('optimistic: usable at once, RS right after the probe and without SLLAO (RFC 4429 §3.2)', () => {
      const { link, host } = setup('optimistic');
      const sent = link.take();
      expect(sent.map(icmpType)).to.deep.equal(['mld2-report', 'neighbor-solicitation', 'router-solicitation']);
      expect(sent[2]!.ipv6!.src).to.equal(LL);
      expect((sent[2]!.icmpv6 as { options: NdOption[] }).options).to.deep.equal([]);
      expect(host.snapshot().linkLocal.state).to.equal('optimistic');
    });

    it('an NA for the tentative address makes it duplicate: no RS, no answers', () => {
      const { link, clock, host } = setup('full');
      link.take();
      link.deliver(na(OTHER_MAC, LL));
      clock.advance(5000);
      expect(host.snapshot().linkLocal.state).to.equal('duplicate');
      expect(link.take()).to.have.length(0);
      link.deliver(ns(OTHER_MAC, 'fe80::99', LL));
      expect(link.take()).to.have.length(0);
      expect(host.snapshot().counters.nsAnswered).to.equal(0);
    });

    it('an NS from :: for the tentative address (another node probing) makes it duplicate', () => {
      const { link, clock, host } = setup('optimistic');
      link.take();
      link.deliver(ns(OTHER_MAC, '::', LL));
      clock.advance(1000);
      expect(host.snapshot().linkLocal.state).to.equal('duplicate');
    });

    it('its own probe looped back (same nonce) is not a duplicate (RFC 7527)', () => {
      const { link, clock, host } = setup('full');
      const [, probe] = link.sent.splice(0);
      link.deliver(probe!);
      clock.advance(1000);
      expect(host.snapshot().linkLocal.state).to.equal('preferred');
    });

    it('answers an MLD query (with its Router Alert) with one report of its group, after a random delay', () => {
      const { link, clock } = configured();
      const query = buildFrame(mldQuery({ mac: R1.mac, src: R1.ll }));
      link.deliver(query);
      link.deliver(query);
      expect(link.take()).to.have.length(0);
      clock.advance(1000);
      const reports = link.take();
      expect(reports).to.have.length(1);
      expect(reports[0]!.ipv6!.src).to.equal(LL);
      expect(reports[0]!.icmpv6).to.deep.include({
        type: 'mld2-report',
        records: [{ recordType: 2, auxData: Buffer.alloc(0), multicastAddress: 'ff02::1:ff00:8b', sources: [] }],
      });
    });

    it('with mldVersion 1, reports in MLDv1 (RFC 2710: type 131 to the group itself, Router Alert), at start and after DAD', () => {
      const { link, clock } = setup('full', { mldVersion: 1 });
      const [join] = link.take();
      expect(join!.ethernet).to.include({ src: MAC, dst: '33:33:ff:00:00:8b' });
      expect(join!.ipv6).to.include({ src: '::', dst: 'ff02::1:ff00:8b', hopLimit: 1 });
      expect(join!.extensions).to.have.length(1);
      const body = Buffer.alloc(20);
      ipv6ToBytes('ff02::1:ff00:8b').copy(body, 4);
      expect(join!.icmpv6).to.deep.include({ type: 'unknown', icmpType: 131, code: 0, body });
      clock.advance(1000);
      const [again] = link.take();
      expect(again!.ipv6).to.include({ src: LL, dst: 'ff02::1:ff00:8b' });
      expect(again!.icmpv6).to.deep.include({ type: 'unknown', icmpType: 131 });
    });

    it('spreads its answer over the Maximum Response Delay the query asks for, and ignores a query for another group', () => {
      const { link, clock } = configured();
      const query = (maxResponseCode: number, group?: string) => buildFrame(mldQuery({ mac: R1.mac, src: R1.ll, maxResponseCode, group }));
      link.deliver(query(10_000, 'ff02::1:ff00:1234'));
      clock.advance(20_000);
      expect(link.take(), 'a query for a group it is not in').to.have.length(0);
      link.deliver(query(10_000));
      clock.advance(4_999);
      expect(link.take(), 'random() = 0.5 of the 10 s asked for: not before 5 s').to.have.length(0);
      clock.advance(1);
      expect(link.take(), 'answered at 5 s').to.have.length(1);
      // 0x8000 | exp 1 | mant 0: (0x1000) << 4 = 65,536 ms (RFC 3810 §5.1.3).
      expect(maxResponseDelayMs(0x9000)).to.equal(65_536);
      expect(maxResponseDelayMs(10_000)).to.equal(10_000);
    });

    it('a tentative address is not answered for (RFC 4862 §5.4.3)', () => {
      const { link } = setup('full');
      link.take();
      link.deliver(ns(R1.mac, R1.ll, LL));
      expect(link.take()).to.have.length(0);
    });
  });

  describe('router advertisements and SLAAC', () => {
    it('forms the exact EUI-64 SLAAC address, DADs it, and records both routers with their MACs', () => {
      const { link, clock, host } = setup('full');
      clock.advance(1000);
      link.take();
      link.deliver(ra(R1));
      link.deliver(ra(R2));
      const probes = link.take();
      expect(probes).to.have.length(1); // the second RA refreshes, it does not re-probe
      expect(probes[0]!.ipv6).to.include({ src: '::', dst: 'ff02::1:ff00:8b' });
      expect(probes[0]!.icmpv6).to.include({ type: 'neighbor-solicitation', target: SLAAC });
      let snap = host.snapshot();
      expect(snap.addresses).to.have.length(1);
      expect(snap.addresses[0]).to.include({ address: SLAAC, prefixLength: 64, origin: 'slaac', state: 'tentative' });
      clock.advance(1000);
      snap = host.snapshot();
      expect(snap.addresses[0]!.state).to.equal('preferred');
      expect(snap.addresses[0]!.validUntil).to.equal(clock.now() - 1000 + 86400 * 1000);
      expect(snap.defaultRouters.map((r) => [r.address, r.mac])).to.deep.equal([
        [R1.ll, R1.mac],
        [R2.ll, R2.mac],
      ]);
      expect(snap.defaultRouters[0]!.expiresAt).to.equal(clock.now() - 1000 + 1800 * 1000);
      expect(snap.counters.raAccepted).to.equal(2);
    });

    it('an RA stops the RS retransmissions; without one, 3 RS at 4 s', () => {
      const quiet = setup('full');
      quiet.clock.advance(1000 + 4000 * 5);
      expect(quiet.link.take().filter((f) => icmpType(f) === 'router-solicitation')).to.have.length(3);
      const answered = setup('full');
      answered.clock.advance(1000);
      answered.link.deliver(ra(R1));
      answered.clock.advance(4000 * 5);
      expect(answered.link.take().filter((f) => icmpType(f) === 'router-solicitation')).to.have.length(1);
      // An RA heard while the link-local is tentative: the first RS still goes out (as Linux does), no more.
      const early = setup('full');
      early.link.deliver(ra(R1));
      early.clock.advance(1000 + 4000 * 5);
      expect(early.link.take().filter((f) => icmpType(f) === 'router-solicitation')).to.have.length(1);
    });

    it('router lifetime 0 removes that router; the other stays', () => {
      const { link, host } = configured();
      link.deliver(ra(R1, { lifetime: 0 }));
      expect(host.snapshot().defaultRouters.map((r) => r.address)).to.deep.equal([R2.ll]);
    });

    it('ignores PIOs that are not /64, have preferred > valid, or are link-local', () => {
      const { link, clock, host } = setup('full');
      clock.advance(1000);
      link.deliver(ra(R1, { prefix: '2001:db8:1::', prefixLength: 56 }));
      link.deliver(ra(R1, { prefix: '2001:db8:2::', valid: 100, preferred: 200 }));
      link.deliver(ra(R1, { prefix: 'fe80::' }));
      expect(host.snapshot().addresses).to.deep.equal([]);
    });

    it('RFC 4862 §5.5.3 (e): valid 0 cuts a long lifetime to 2 h, leaves a short one; expiry removes the address', () => {
      const { link, clock, host } = configured();
      link.deliver(ra(R1, { valid: 0, preferred: 0 }));
      let a = host.snapshot().addresses[0]!;
      expect(a.validUntil).to.equal(clock.now() + 7200 * 1000);
      expect(a.state).to.equal('deprecated');
      link.deliver(ra(R1, { valid: 0, preferred: 0 }));
      a = host.snapshot().addresses[0]!;
      expect(a.validUntil).to.equal(clock.now() + 7200 * 1000); // ≤ 2 h left: ignored
      link.deliver(ra(R1, { valid: 60, preferred: 0 }));
      expect(host.snapshot().addresses[0]!.validUntil).to.equal(clock.now() + 7200 * 1000); // 60 s < remaining, ≤ 2 h: ignored
      clock.advance(7200 * 1000);
      expect(host.snapshot().addresses).to.deep.equal([]);
    });

    it('drops an RA from a global source or with hop limit < 255, counted as malformed', () => {
      const { link, clock, host } = setup('full');
      clock.advance(1000);
      const bad = ra({ mac: R1.mac, ll: '2001:db8:100::1' });
      link.deliver(bad);
      const forwarded = Buffer.from(ra(R1));
      forwarded[14 + 7] = 254; // hop limit (not covered by the ICMPv6 checksum)
      link.deliver(forwarded);
      const snap = host.snapshot();
      expect(snap.addresses).to.deep.equal([]);
      expect(snap.defaultRouters).to.deep.equal([]);
      expect(snap.counters.malformed).to.equal(2);
    });
  });

  describe('neighbour solicitation', () => {
    it('answers an NS for its SLAAC address: solicited NA with TLLAO, S=1 O=1, to the solicitor', () => {
      const { link, host } = configured();
      link.deliver(ns(R1.mac, R1.ll, SLAAC));
      const [reply] = link.take();
      expect(reply!.ethernet).to.include({ src: MAC, dst: R1.mac });
      expect(reply!.ipv6).to.include({ src: SLAAC, dst: R1.ll, hopLimit: 255 });
      expect(reply!.icmpv6).to.deep.include({
        type: 'neighbor-advertisement',
        router: false,
        solicited: true,
        override: true,
        target: SLAAC,
        options: [{ type: 'target-link-layer-address', address: MAC }],
      });
      expect(host.snapshot().counters.nsAnswered).to.equal(1);
    });

    it('answers a DAD probe for its address to all nodes with S=0', () => {
      const { link } = configured();
      link.deliver(ns(OTHER_MAC, '::', SLAAC));
      const [reply] = link.take();
      expect(reply!.ipv6!.dst).to.equal('ff02::1');
      expect(reply!.ethernet.dst).to.equal('33:33:00:00:00:01');
      expect(reply!.icmpv6).to.include({ solicited: false, override: true });
    });

    it('an optimistic address is answered with O=0 (RFC 4429 §3.3)', () => {
      const { link } = setup('optimistic');
      link.take();
      link.deliver(ns(R1.mac, R1.ll, LL));
      expect(link.take()[0]!.icmpv6).to.include({ type: 'neighbor-advertisement', solicited: true, override: false });
    });

    it('does not answer for a foreign target, even one sharing its solicited-node group', () => {
      const { link, host } = configured();
      link.deliver(ns(R1.mac, R1.ll, '2001:db8:100::aa:bbff:fe00:8b'));
      // Unicast to our MAC and address, for someone else's target.
      link.deliver(icmp(R1.mac, MAC, R1.ll, SLAAC, { type: 'neighbor-solicitation', code: 0, target: '2001:db8:100::5', options: [] }));
      expect(host.snapshot().counters.notForUs).to.equal(0);
      expect(link.take()).to.have.length(0);
      expect(host.snapshot().counters.nsAnswered).to.equal(0);
    });

    it("drops frames to another host's groups before decoding", () => {
      const { link, host } = configured();
      link.deliver(ns(R1.mac, R1.ll, '2001:db8:100::1'));
      const snap = host.snapshot();
      expect(snap.counters.notForUs).to.equal(1);
      expect(link.take()).to.have.length(0);
    });
  });

  describe('echo', () => {
    it('replies to an echo request for its SLAAC address via a default router', () => {
      const { link, host } = configured();
      link.deliver(echo(R2.mac, CORE, SLAAC, 7));
      const [reply] = link.take();
      expect(reply!.ethernet).to.include({ src: MAC, dst: R1.mac }); // the first default router's MAC, from its RA
      expect(reply!.ipv6).to.include({ src: SLAAC, dst: CORE, hopLimit: 64 });
      expect(reply!.icmpv6).to.deep.include({ type: 'echo-reply', identifier: 0x1234, sequence: 7, data: Buffer.from('ping') });
      expect(reply!.checksumStatus!.valid).to.equal(true);
      expect(host.snapshot().counters.echoAnswered).to.equal(1);
    });

    it('resolves an on-link neighbour with NS before replying, and sends once the NA arrives', () => {
      const { link } = configured();
      const peer = '2001:db8:100::77';
      link.deliver(echo(OTHER_MAC, peer, SLAAC));
      const [solicit] = link.take();
      expect(solicit!.icmpv6).to.include({ type: 'neighbor-solicitation', target: peer });
      expect(solicit!.ipv6).to.include({ src: LL, dst: solicitedNodeAddress(peer) });
      link.deliver(
        icmp(OTHER_MAC, MAC, peer, LL, {
          type: 'neighbor-advertisement',
          code: 0,
          router: false,
          solicited: true,
          override: true,
          reserved: 0,
          target: peer,
          options: [{ type: 'target-link-layer-address', address: OTHER_MAC }],
        }),
      );
      const [reply] = link.take();
      expect(reply!.ethernet.dst).to.equal(OTHER_MAC);
      expect(reply!.icmpv6!.type).to.equal('echo-reply');
    });

    it('does not reply for an address it does not hold', () => {
      const { link, host } = configured();
      link.deliver(echo(R1.mac, CORE, '2001:db8:100::5'));
      expect(link.take()).to.have.length(0);
      expect(host.snapshot().counters.echoAnswered).to.equal(0);
    });
  });

  describe('malformed frames', () => {
    it('counts truncated, garbage and bad-checksum frames, never throws', () => {
      const { link, host } = configured();
      const good = echo(R1.mac, CORE, SLAAC);
      link.deliver(good.subarray(0, 30));
      link.deliver(Buffer.concat([Buffer.from(MAC.split(':').map((h) => parseInt(h, 16))), Buffer.alloc(3, 0xee)]));
      const corrupt = Buffer.from(good);
      corrupt[corrupt.length - 1]! ^= 0xff;
      link.deliver(corrupt);
      link.deliver(Buffer.alloc(2));
      expect(link.take()).to.have.length(0);
      expect(host.snapshot().counters).to.include({ malformed: 4, echoAnswered: 0 });
    });
  });

  describe('fuzz', () => {
    it('20,000 mutants of the frames it handles and random frames: never throws, every frame counted, still answers', () => {
      const { link, host } = configured();
      const corpus = [ra(R1), ns(R1.mac, R1.ll, SLAAC), ns(OTHER_MAC, '::', SLAAC), na(OTHER_MAC, '2001:db8:100::9'), echo(R1.mac, CORE, SLAAC)];
      const rng = prng(8);
      const n = 20_000;
      const before = host.snapshot().counters.framesIn;
      for (let i = 0; i < n; i++) link.deliver(i % 10 === 0 ? randomFrame(rng) : mutate(rng.pick(corpus), rng, corpus));
      link.take();
      const snap = host.snapshot();
      expect(snap.counters.framesIn - before).to.equal(n);
      expect(snap.counters.malformed).to.be.greaterThan(n / 10);
      link.deliver(ns(R1.mac, R1.ll, SLAAC)); // positive control after the storm
      expect(link.take().map(icmpType)).to.deep.equal(['neighbor-advertisement']);
    });
  });

  describe('DHCPv6 PD', () => {
    class FakePd extends EventEmitter implements DhcpClient {
      started = 0;
      frames: Buffer[] = [];
      prefixes: DhcpSnapshot['prefixes'] = [];
      constructor(readonly opts: DhcpClientOptions) {
        super();
      }
      start() {
        this.started++;
      }
      handleFrame(frame: Buffer) {
        this.frames.push(frame);
        return true;
      }
      renew() {}
      async release() {
        this.prefixes = [];
      }
      stop() {}
      snapshot(): DhcpSnapshot {
        return { state: this.prefixes.length ? 'bound' : 'soliciting', duid: this.opts.duid.toString('hex'), prefixes: this.prefixes, counters: {} };
      }
    }

    it('starts once the link-local is usable, with DUID-LL of the MAC, and answers pings at <prefix>::1', async () => {
      let pd: FakePd | undefined;
      const { link, clock, host } = setup('full', { dhcp: { enabled: true, iaids: [1, 2] }, dhcpFactory: (o) => (pd = new FakePd(o)) });
      expect(pd).to.equal(undefined);
      clock.advance(1000);
      expect(pd!.started).to.equal(1);
      expect(pd!.opts.duid.toString('hex')).to.equal('00030001067a8800008b');
      expect(pd!.opts).to.include({ mac: MAC, linkLocal: LL });
      expect(pd!.opts.iaids).to.deep.equal([1, 2]);
      expect(pd!.opts.firstSolicitDelayMs).to.equal(0);
      link.deliver(ra(R1));
      clock.advance(1000);
      pd!.prefixes = [{ iaid: 1, prefix: '2001:db8:200::/60', preferredLifetime: 3000, validLifetime: 4000, obtainedAt: clock.now() }];
      pd!.emit('bound');
      expect(host.snapshot().addresses.find((a) => a.origin === 'delegated')).to.include({
        address: '2001:db8:200::1',
        state: 'preferred',
        validUntil: clock.now() + 4000 * 1000,
      });
      link.take();
      link.deliver(echo(R1.mac, CORE, '2001:db8:200::1'));
      expect(link.take()[0]!.icmpv6!.type).to.equal('echo-reply');
      await host.release();
      expect(host.snapshot().addresses.filter((a) => a.origin === 'delegated')).to.deep.equal([]);
    });

    it('frames to UDP 546 go to the client', () => {
      let pd: FakePd | undefined;
      const { link, clock } = setup('optimistic', { dhcp: { enabled: true, iaids: [0] }, dhcpFactory: (o) => (pd = new FakePd(o)) });
      clock.advance(1000);
      const reply = buildFrame({
        ethernet: { src: R1.mac, dst: MAC, etherType: ETHERTYPE_IPV6 },
        ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: R1.ll, dst: LL },
        udp: { srcPort: 547, dstPort: 546 },
        dhcpv6: { type: 'reply', transactionId: 1, options: [] },
      });
      link.deliver(reply);
      expect(pd!.frames).to.have.length(1);
    });

    it('asks its link to accept exactly its MAC, broadcast, all-nodes and the groups of its addresses, as they change', async () => {
      /** A link with a receive filter: records each list asked for. */
      class FilteringLink extends FakeLink {
        readonly filters: string[][] = [];
        acceptOnly(macs: readonly string[]): void {
          this.filters.push([...macs]);
        }
      }
      const link = new FilteringLink();
      const clock = new FakeClock();
      let pd: FakePd | undefined;
      const host = new SyntheticHost(link, {
        name: 'vm1',
        mac: MAC,
        dad: 'full',
        clock,
        random: () => 0.5,
        dhcp: { enabled: true, iaids: [1] },
        dhcpFactory: (o) => (pd = new FakePd(o)),
      });
      const base = [MAC, 'ff:ff:ff:ff:ff:ff', '33:33:00:00:00:01'];
      const eui64Group = '33:33:ff:00:00:8b'; // link-local and SLAAC (EUI-64) share it
      expect(link.filters, 'before start').to.deep.equal([base]);
      host.start();
      // In place before the link-local's DAD probe goes out, so another node's probe for it reaches us.
      expect(link.filters.at(-1), 'while probing the link-local').to.deep.equal([...base, eui64Group]);
      expect(link.sent, 'one MLD report and the DAD probe sent').to.have.length(2);
      clock.advance(1000);
      link.deliver(ra(R1));
      clock.advance(1000);
      expect(host.snapshot().addresses.map((a) => a.address)).to.deep.equal([SLAAC]);
      expect(link.filters, 'SLAAC adds no group, so no new list').to.have.length(2);

      pd!.prefixes = [{ iaid: 1, prefix: '2001:db8:200::/60', preferredLifetime: 3000, validLifetime: 4000, obtainedAt: clock.now() }];
      pd!.emit('bound');
      expect(link.filters.at(-1), 'with 2001:db8:200::1 delegated').to.deep.equal([...base, '33:33:ff:00:00:01', eui64Group]);
      // The host's own check agrees with the filter: a frame to each listed MAC is for us, another group's is not.
      const before = host.snapshot().counters.notForUs;
      for (const dst of link.filters.at(-1)!)
        link.deliver(icmp(R1.mac, dst, R1.ll, 'ff02::1', { type: 'echo-request', code: 0, identifier: 1, sequence: 1, data: Buffer.alloc(0) }));
      link.deliver(ns(R1.mac, R1.ll, '2001:db8:100::aa:bbff:fecc:dd'));
      expect(host.snapshot().counters.notForUs - before).to.equal(1);

      await host.release();
      expect(link.filters.at(-1), 'after the release').to.deep.equal([...base, eui64Group]);
      expect(link.filters).to.have.length(4);
    });

    it('uses a given DUID instead of DUID-LL, and starts on start-dhcp when off', () => {
      let pd: FakePd | undefined;
      const duid = Buffer.from('000200000009aabbcc', 'hex');
      const { clock, host } = setup('full', { dhcp: { enabled: false, iaids: [0], duid }, dhcpFactory: (o) => (pd = new FakePd(o)) });
      clock.advance(2000);
      expect(pd).to.equal(undefined);
      host.startDhcp();
      expect(pd!.opts.duid).to.deep.equal(duid);
    });
  });
});
