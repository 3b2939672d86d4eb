/**
 * The relay's wire paths (what the relay benchmark drives): Relay-Forwards are written as bytes around the
 * client's message and server messages are delivered in a frame template, without the codec's
 * encoder. These tests pin the bytes to what the codec would have built from the decoded
 * messages, so the fast paths change nothing on the wire.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { buildFrame, decodeFrame, type Frame } from '../packet/frame.ts';
import { ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import {
  decodeDhcpv6,
  encodeDhcpv6,
  findOption,
  findOptions,
  isRelayMessage,
  relayChain,
  type ClientServerMessage,
  type Dhcpv6Message,
  type Dhcpv6Option,
} from '../packet/dhcpv6.ts';
import { testRelayConfig } from './testing/relay-config.ts';
import type { RelayConfig } from './config.ts';
import { Counters } from './counters.ts';
import { RelayAgent, type WirePorts } from './relay-agent.ts';
import { delegatedPrefixes, interfaceIdOf, readClientMessage, relayChainLength, relayMessageOf, transactionIdOf } from './messages.ts';
import { dhcpv6MessageArb } from '../packet/testing/dhcpv6-arbitraries.ts';
import { mutate } from '../packet/testing/mutate.ts';
import { prng } from '../os/prng.ts';
import { DeliveryFrames } from './lan-port.ts';
import { canonicalIpv6, ipv6FromBytes } from '../addr/bytes.ts';

const CFG = testRelayConfig({ servers: ['fd76:3670:ffff:547::547', 'fd76:3670:ffff:547::548'] });

function wireAgent(cfg = CFG) {
  const forwarded: [string, Buffer][] = [];
  const delivered: [string, string | undefined, Buffer][] = [];
  const counters = new Counters();
  const ports: WirePorts = { forward: (s, b) => forwarded.push([s, Buffer.from(b)]), deliver: (p, mac, b) => delivered.push([p, mac, Buffer.from(b)]) };
  const agent = new RelayAgent(cfg, counters, ports, { install: async () => undefined, remove: async (p) => p });
  return { agent, counters, forwarded, delivered };
}

const clientFrame = (message: Dhcpv6Message, mac: string, src: string, extra: Partial<Frame> = {}) =>
  buildFrame({
    ethernet: { dst: '33:33:00:01:00:02', src: mac, etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 1, src, dst: 'ff02::1:2' },
    udp: { srcPort: 546, dstPort: 547 },
    dhcpv6: message,
    ...extra,
  });

/** What the relay built before the wire path: the decoded Relay-Forward, encoded by the codec. */
const codecForward = (cfg: RelayConfig, peer: string, mac: string, message: Dhcpv6Message) =>
  encodeDhcpv6({
    type: 'relay-forward',
    hopCount: 0,
    linkAddress: cfg.linkAddress,
    peerAddress: peer,
    options: [
      { type: 'interface-id', id: Buffer.from(cfg.interfaceId) },
      { type: 'remote-id', enterpriseNumber: cfg.enterpriseNumber, remoteId: mac },
      { type: 'relay-message', message },
    ],
  });

const hex = (n: number) => n.toString(16).padStart(2, '0');
const arbMac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Array.from(b, (x, i) => hex(i === 0 ? x & 0xfe : x)).join(':'));
const arbLinkLocal = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 })
  .map((g) => canonicalIpv6(`fe80::${g.map((x) => x.toString(16)).join(':')}`));
const arbPrefix = fc.integer({ min: 0, max: 0xfff }).map((n) => `2001:db8:2${(n >> 8).toString(16)}:${((n & 0xff) << 4).toString(16)}::`);
const arbMessage = fc
  .record({
    type: fc.constantFrom('solicit', 'request', 'renew', 'rebind', 'release', 'decline', 'confirm', 'information-request'),
    transactionId: fc.integer({ min: 0, max: 0xffffff }),
    mac: arbMac,
    prefixes: fc.array(arbPrefix, { maxLength: 3 }),
    extra: fc.array(fc.record({ optionCode: fc.integer({ min: 200, max: 65000 }), data: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) }), {
      maxLength: 2,
    }),
  })
  .map(({ type, transactionId, mac, prefixes, extra }): ClientServerMessage => ({
    type,
    transactionId,
    options: [
      { type: 'client-id', duid: { type: 'll', hardwareType: 1, linkLayerAddress: mac } },
      { type: 'elapsed-time', centiseconds: 0 },
      {
        type: 'ia-pd',
        iaid: 1,
        t1: 0,
        t2: 0,
        options: prefixes.map((prefix) => ({ type: 'iaprefix', preferredLifetime: 300, validLifetime: 600, prefixLength: 60, prefix, options: [] })),
      },
      ...extra.map((e): Dhcpv6Option => ({ type: 'unknown', ...e })),
    ],
  }));

describe('relay wire paths (byte-identical to the codec)', () => {
  it('property: a Relay-Forward is the codec encoding of the decoded Relay-Forward, sent to every server', () => {
    fc.assert(
      fc.property(
        arbMessage,
        arbMac,
        arbLinkLocal,
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.string({ minLength: 1, maxLength: 12 }),
        (message, mac, peer, enterpriseNumber, interfaceId) => {
          const cfg = { ...CFG, enterpriseNumber, interfaceId };
          const h = wireAgent(cfg);
          h.agent.fromClient(clientFrame(message, mac, peer));
          const expected = codecForward(cfg, peer, mac, message);
          expect(h.forwarded.map(([s]) => s)).to.deep.equal(cfg.servers);
          for (const [, wire] of h.forwarded) expect(wire.toString('hex')).to.equal(expected.toString('hex'));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: damaged frames are accepted and refused exactly as decodeFrame accepts and refuses them', () => {
    const damage = fc.record({ cut: fc.nat(200), flips: fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }) });
    fc.assert(
      fc.property(arbMessage, arbMac, arbLinkLocal, damage, fc.boolean(), (message, mac, peer, { cut, flips }, tagged) => {
        const frame = Buffer.from(
          clientFrame(
            message,
            mac,
            peer,
            tagged ? { ethernet: { dst: '33:33:00:01:00:02', src: mac, etherType: ETHERTYPE_IPV6, vlan: { pcp: 0, dei: false, id: 5 } } } : {},
          ),
        );
        for (const [at, value] of flips) frame[at % frame.length] = value;
        const raw = frame.subarray(0, frame.length - (cut % 8 === 0 ? cut % 20 : 0));
        let reference: Dhcpv6Message | undefined;
        try {
          const f = decodeFrame(raw);
          reference = f.ipv6 ? f.dhcpv6 : undefined;
        } catch {
          reference = undefined;
        }
        let read;
        try {
          read = readClientMessage(raw);
        } catch {
          read = undefined;
        }
        // The bytes read are the message the codec decodes, and the type read is its type.
        expect(read && decodeDhcpv6(read.bytes)).to.deep.equal(reference);
        expect(read?.type).to.equal(reference?.type);
      }),
      { numRuns: 5000 },
    );
  });

  it('property: what the relay reads in place from server messages is what the codec decodes, on generated and mutated messages', () => {
    const prefixesByCodec = (m: ClientServerMessage) =>
      findOptions(m.options, 'ia-pd')
        .flatMap((ia) => findOptions(ia.options, 'iaprefix'))
        .map((p) => ({ prefix: `${p.prefix}/${p.prefixLength}`, validLifetime: p.validLifetime }));
    const replies = fc.sample(fc.tuple(arbMessage, arbLinkLocal), { numRuns: 300, seed: 7 }).map(([m, peer]) =>
      encodeDhcpv6({
        type: 'relay-reply',
        hopCount: 0,
        linkAddress: CFG.linkAddress,
        peerAddress: peer,
        options: [
          { type: 'interface-id', id: Buffer.from('lan') },
          { type: 'relay-message', message: { ...m, type: 'reply' } },
        ],
      }),
    );
    const messages = fc.sample(arbMessage, { numRuns: 300, seed: 8 }).map(encodeDhcpv6);
    const corpus = [...replies, ...messages, ...fc.sample(dhcpv6MessageArb(3), { numRuns: 1000, seed: 7 }).map(encodeDhcpv6)];
    const rng = prng(7);
    let checked = 0;
    let withPrefixes = 0;
    for (let i = 0; i < 30_000; i++) {
      const buf = i < corpus.length ? corpus[i]! : mutate(rng.pick(corpus), rng, corpus);
      let msg: Dhcpv6Message;
      try {
        msg = decodeDhcpv6(buf);
      } catch {
        continue;
      }
      checked++;
      if (isRelayMessage(msg)) {
        expect(relayChainLength(buf)).to.equal(relayChain(msg).length);
        expect(interfaceIdOf(buf)).to.deep.equal(findOption(msg.options, 'interface-id')?.id);
        const inner = relayMessageOf(buf);
        expect(inner && decodeDhcpv6(inner)).to.deep.equal(findOption(msg.options, 'relay-message')?.message);
      } else if (msg.type !== 'unknown') {
        expect(transactionIdOf(buf)).to.equal(msg.transactionId);
        const prefixes = delegatedPrefixes(buf);
        expect(prefixes.map(({ prefix, validLifetime }) => ({ prefix, validLifetime }))).to.deep.equal(prefixesByCodec(msg));
        for (const p of prefixes) expect(`${ipv6FromBytes(buf, p.at)}/${p.length}`).to.equal(p.prefix);
        if (prefixes.length) withPrefixes++;
      }
    }
    expect(checked).to.be.greaterThan(10_000);
    expect(withPrefixes).to.be.greaterThan(300);
  });

  it('frames with a VLAN tag or extension headers take the codec path and forward the same message', () => {
    const message: ClientServerMessage = { type: 'solicit', transactionId: 77, options: [{ type: 'elapsed-time', centiseconds: 0 }] };
    const mac = '02:00:00:00:00:07';
    const peer = 'fe80::7';
    for (const extra of [
      { extensions: [{ type: 'hop-by-hop' as const, options: [] }] },
      { ethernet: { dst: '33:33:00:01:00:02', src: mac, etherType: ETHERTYPE_IPV6, vlan: { pcp: 0, dei: false, id: 5 } } },
    ]) {
      const h = wireAgent();
      h.agent.fromClient(clientFrame(message, mac, peer, extra));
      expect(h.forwarded[0]![1]).to.deep.equal(codecForward(CFG, peer, mac, message));
    }
  });

  it('a fragment or a non-DHCP port is malformed, as in the codec path', () => {
    const message: ClientServerMessage = { type: 'solicit', transactionId: 1, options: [] };
    const h = wireAgent();
    h.agent.fromClient(clientFrame(message, '02:00:00:00:00:08', 'fe80::8', { extensions: [{ type: 'fragment', offset: 0, more: true, identification: 1 }] }));
    h.agent.fromClient(
      buildFrame({
        ethernet: { dst: '33:33:00:01:00:02', src: '02:00:00:00:00:08', etherType: ETHERTYPE_IPV6 },
        ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 1, src: 'fe80::8', dst: 'ff02::1:2' },
        udp: { srcPort: 1000, dstPort: 1001 },
        payload: encodeDhcpv6(message),
      }),
    );
    expect(h.forwarded).to.deep.equal([]);
    expect(h.counters.snapshot().dropped).to.deep.equal({ malformed: 2 });
  });

  it('only fe80::/10 is a link-local source (not text that merely starts with "fe8")', () => {
    const h = wireAgent();
    const message: ClientServerMessage = { type: 'solicit', transactionId: 1, options: [] };
    h.agent.fromClient(clientFrame(message, '02:00:00:00:00:09', 'fe8::1'));
    h.agent.fromClient(clientFrame(message, '02:00:00:00:00:09', 'febf::1'));
    expect(h.counters.snapshot().dropped).to.deep.equal({ 'source-not-link-local': 1 });
    expect(h.forwarded).to.have.length(2); // febf::1, once per server
  });

  it("property: a client receives the Relay Message option's body exactly as the server sent it, in the frame buildFrame would make", () => {
    const frames = new DeliveryFrames(CFG.routerMac, CFG.linkLocal);
    fc.assert(
      fc.property(arbMessage, arbMac, arbLinkLocal, (asked, mac, peer) => {
        const h = wireAgent();
        h.agent.fromClient(clientFrame(asked, mac, peer));
        const reply: ClientServerMessage = { ...asked, type: 'reply' };
        // An option after the Relay Message, and a second Relay Message the relay must ignore.
        const relayReply = encodeDhcpv6({
          type: 'relay-reply',
          hopCount: 0,
          linkAddress: CFG.linkAddress,
          peerAddress: peer,
          options: [
            { type: 'relay-message', message: reply },
            { type: 'interface-id', id: Buffer.from('lan') },
            { type: 'relay-message', message: { ...reply, type: 'advertise' } },
          ],
        });
        h.agent.fromServer(relayReply, CFG.servers[1]!);
        expect(h.delivered).to.have.length(1);
        const [to, toMac, wire] = h.delivered[0]!;
        expect([to, toMac]).to.deep.equal([peer, mac]);
        expect(wire).to.deep.equal(encodeDhcpv6(reply));
        const expected = buildFrame({
          ethernet: { dst: mac, src: CFG.routerMac, etherType: ETHERTYPE_IPV6 },
          ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: CFG.linkLocal, dst: peer },
          udp: { srcPort: 547, dstPort: 546 },
          dhcpv6: decodeDhcpv6(wire),
        });
        expect(frames.build(mac, peer, wire).toString('hex')).to.equal(expected.toString('hex'));
      }),
      { numRuns: 300 },
    );
  });
});
