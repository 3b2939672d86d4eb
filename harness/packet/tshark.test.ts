/**
 * Independent decoder: frames built by our codecs are dissected by Wireshark's tshark, which must
 * read back the model they were built from, find every checksum good and nothing malformed.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFrame, decodeFrame, type Frame } from './frame.ts';
import { writePcap } from './pcap.ts';
import { DHCPV6_MESSAGE_NUMBERS, DHCPV6_OPTION_NUMBERS, isRelayMessage, type Dhcpv6Message, type Dhcpv6Option } from './dhcpv6.ts';
import { ICMPV6_TYPE_NUMBERS, type Icmpv6Message } from './icmpv6.ts';
import type { NdOption } from './nd-options.ts';
import { ND_OPTION_NUMBERS } from './nd-options.ts';
import { dhcpv6FrameArb, icmpv6FrameArb } from './testing/frame-arbitraries.ts';
import { sampleRelayForwardFrame } from './testing/samples.ts';
import { EXPERT_SEVERITY_ERROR, tsharkAvailable, tsharkFields, type TsharkRecord } from './testing/tshark.ts';

const SEED = 0x6c0de;
const PER_PROTOCOL = 200;

const DHCPV6_FIELDS = [
  ...['dhcpv6.msgtype', 'dhcpv6.option.type', 'dhcpv6.hopcount', 'dhcpv6.linkaddr', 'dhcpv6.peeraddr'],
  ...['dhcpv6.iaprefix.pref_addr', 'dhcpv6.iaprefix.pref_len', 'dhcpv6.remoteid.enterprise', 'dhcpv6.remoteid_enterprise_id'],
];
const RA_FIELDS = ['cur_hop_limit', 'flag.m', 'flag.o', 'flag.prf', 'router_lifetime', 'reachable_time', 'retrans_timer'].map((f) => `icmpv6.nd.ra.${f}`);
const NA_FIELDS = ['flag.r', 'flag.s', 'flag.o', 'target_address'].map((f) => `icmpv6.nd.na.${f}`);
const PIO_FIELDS = ['length', 'flag.l', 'flag.a', 'valid_lifetime', 'preferred_lifetime'].map((f) => `icmpv6.opt.prefix.${f}`);
/** Checked on every frame: occurrences tshark finds where the model has none (an RA field in a DHCPv6 frame) are mismatches too. */
const ALL_FIELDS = [
  ...DHCPV6_FIELDS,
  ...['icmpv6.type', 'icmpv6.code', ...RA_FIELDS, ...NA_FIELDS, 'icmpv6.nd.ns.target_address', 'icmpv6.opt.type', ...PIO_FIELDS, 'icmpv6.opt.prefix'],
  ...['udp.checksum.status', 'icmpv6.checksum.status', 'eth.src', 'vlan.id'],
];

/** What tshark should print for a field, occurrence by occurrence, given the model a frame was built from. */
type Expectation = Record<string, string[]>;

const dhcpv6Number = (m: Dhcpv6Message) => (m.type === 'unknown' ? m.msgType : DHCPV6_MESSAGE_NUMBERS[m.type]);
const optionNumber = (o: Dhcpv6Option) => (o.type === 'unknown' ? o.optionCode : DHCPV6_OPTION_NUMBERS[o.type]);

/** Walks messages and options depth-first in pre-order, the order tshark prints repeated fields. */
function expectDhcpv6(msg: Dhcpv6Message): Expectation {
  const e: Expectation = Object.fromEntries(DHCPV6_FIELDS.map((f) => [f, []]));
  const push = (field: string, value: string | number) => e[field]!.push(String(value));
  const message = (m: Dhcpv6Message): void => {
    push('dhcpv6.msgtype', dhcpv6Number(m));
    if (m.type === 'unknown') return;
    if (isRelayMessage(m)) {
      push('dhcpv6.hopcount', m.hopCount);
      push('dhcpv6.linkaddr', m.linkAddress);
      push('dhcpv6.peeraddr', m.peerAddress);
    }
    m.options.forEach(option);
  };
  const option = (o: Dhcpv6Option): void => {
    push('dhcpv6.option.type', optionNumber(o));
    if (o.type === 'iaprefix') {
      push('dhcpv6.iaprefix.pref_addr', o.prefix);
      push('dhcpv6.iaprefix.pref_len', o.prefixLength);
    }
    if (o.type === 'remote-id') {
      push('dhcpv6.remoteid.enterprise', o.enterpriseNumber);
      push('dhcpv6.remoteid_enterprise_id', o.remoteId.replaceAll(':', ''));
    }
    if (o.type === 'relay-message') message(o.message);
    if ('options' in o) o.options.forEach(option);
  };
  message(msg);
  return e;
}

const bit = (b: boolean) => (b ? '1' : '0');
const PREFERENCE_BITS = { medium: 0, high: 1, reserved: 2, low: 3 } as const;

function expectIcmpv6(m: Icmpv6Message): Expectation {
  const e: Expectation = {
    'icmpv6.type': [String(m.type === 'unknown' ? m.icmpType : ICMPV6_TYPE_NUMBERS[m.type])],
    'icmpv6.code': [String(m.code)],
  };
  if (m.type === 'router-advertisement') {
    Object.assign(e, {
      'icmpv6.nd.ra.cur_hop_limit': [String(m.curHopLimit)],
      'icmpv6.nd.ra.flag.m': [bit(m.managed)],
      'icmpv6.nd.ra.flag.o': [bit(m.other)],
      'icmpv6.nd.ra.flag.prf': [String(PREFERENCE_BITS[m.preference])],
      'icmpv6.nd.ra.router_lifetime': [String(m.routerLifetime)],
      'icmpv6.nd.ra.reachable_time': [String(m.reachableTime)],
      'icmpv6.nd.ra.retrans_timer': [String(m.retransTimer)],
    });
  }
  if (m.type === 'neighbor-advertisement') {
    Object.assign(e, {
      'icmpv6.nd.na.flag.r': [bit(m.router)],
      'icmpv6.nd.na.flag.s': [bit(m.solicited)],
      'icmpv6.nd.na.flag.o': [bit(m.override)],
      'icmpv6.nd.na.target_address': [m.target],
    });
  }
  if (m.type === 'neighbor-solicitation') e['icmpv6.nd.ns.target_address'] = [m.target];
  if ('options' in m) {
    const pios = m.options.filter((o): o is Extract<NdOption, { type: 'prefix-information' }> => o.type === 'prefix-information');
    Object.assign(e, {
      'icmpv6.opt.type': m.options.map((o) => String(o.type === 'unknown' ? o.optionType : ND_OPTION_NUMBERS[o.type])),
      'icmpv6.opt.prefix.length': pios.map((p) => String(p.prefixLength)),
      'icmpv6.opt.prefix.flag.l': pios.map((p) => bit(p.onLink)),
      'icmpv6.opt.prefix.flag.a': pios.map((p) => bit(p.autonomous)),
      'icmpv6.opt.prefix.valid_lifetime': pios.map((p) => String(p.validLifetime)),
      'icmpv6.opt.prefix.preferred_lifetime': pios.map((p) => String(p.preferredLifetime)),
      'icmpv6.opt.prefix': pios.map((p) => p.prefix),
    });
  }
  return e;
}

function expectFrame(f: Frame): Expectation {
  const e: Expectation = f.dhcpv6
    ? { ...expectDhcpv6(f.dhcpv6), 'udp.checksum.status': ['1'] }
    : { ...expectIcmpv6(f.icmpv6!), 'icmpv6.checksum.status': ['1'] };
  e['eth.src'] = [f.ethernet.src];
  e['vlan.id'] = f.ethernet.vlan ? [String(f.ethernet.vlan.id)] : [];
  return e;
}

const ADDRESS_FIELDS = new Set([
  'dhcpv6.linkaddr',
  'dhcpv6.peeraddr',
  'dhcpv6.iaprefix.pref_addr',
  'icmpv6.nd.na.target_address',
  'icmpv6.nd.ns.target_address',
  'icmpv6.opt.prefix',
]);

/**
 * One text per value. tshark prints some addresses in mixed notation ("::1.2.3.4"), so addresses go
 * through the WHATWG URL parser, not ipaddr.js, which reads "::1.2.3.4" as "::ffff:1.2.3.4".
 * tshark prints an empty byte string as <MISSING>.
 */
function normalize(field: string, value: string): string {
  if (ADDRESS_FIELDS.has(field)) return new URL(`http://[${value}]/`).hostname;
  return value === '<MISSING>' ? '' : value;
}

const DIAGNOSTIC_FIELDS = ['_ws.malformed', '_ws.expert.severity', '_ws.expert.message', 'frame.protocols'];

describe('packet codecs against tshark (independent decoder)', function () {
  let frames: Frame[];
  let records: TsharkRecord[];
  let dir: string;

  before(function () {
    if (!tsharkAvailable()) this.skip();
    const sample = (arb: fc.Arbitrary<Frame>, seed: number) => fc.sample(arb, { numRuns: PER_PROTOCOL, seed });
    frames = [sampleRelayForwardFrame(), ...sample(dhcpv6FrameArb, SEED), ...sample(icmpv6FrameArb, SEED + 1)];
    dir = mkdtempSync(join(tmpdir(), 'v6pod-tshark-'));
    const pcap = join(dir, 'frames.pcap');
    writePcap(pcap, frames.map(buildFrame));
    records = tsharkFields(pcap, [...ALL_FIELDS, ...DIAGNOSTIC_FIELDS]);
    expect(records).to.have.length(frames.length);
  });

  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  /** Frame number (1-based, as in Wireshark), what differs, and the frame's hex to reproduce it. */
  const describeFrame = (i: number) => `frame ${i + 1} [${records[i]!['frame.protocols']}] ${buildFrame(frames[i]!).toString('hex')}`;

  it(`decodes ${1 + 2 * PER_PROTOCOL} frames (seed ${SEED}) to the fields they were built from`, function () {
    const mismatches: string[] = [];
    frames.forEach((frame, i) => {
      const expected = expectFrame(frame);
      for (const field of ALL_FIELDS) {
        const want = (expected[field] ?? []).map((v) => normalize(field, v));
        const got = records[i]![field]!.map((v) => normalize(field, v));
        if (JSON.stringify(got) !== JSON.stringify(want))
          mismatches.push(`${field}: tshark ${JSON.stringify(got)}, model ${JSON.stringify(want)} in ${describeFrame(i)}`);
      }
    });
    expect(mismatches, mismatches.slice(0, 5).join('\n')).to.deep.equal([]);
  });

  it('covers every DHCPv6 message type and the relay, IA_PD, remote-id, RA, NA and PIO fields', function () {
    const seen = (field: string) => new Set(records.flatMap((r) => r[field]!));
    expect([...seen('dhcpv6.msgtype')].map(Number)).to.include.members(Object.values(DHCPV6_MESSAGE_NUMBERS));
    for (const field of [
      'dhcpv6.iaprefix.pref_len',
      'dhcpv6.remoteid.enterprise',
      'dhcpv6.hopcount',
      'icmpv6.nd.ra.router_lifetime',
      'icmpv6.nd.na.target_address',
      'icmpv6.opt.prefix',
    ]) {
      expect(seen(field).size, field).to.be.greaterThan(10);
    }
  });

  it('finds no malformed frame and no error-level expert info', function () {
    const bad = records.flatMap((r, i) => {
      const errors = r['_ws.expert.severity']!.flatMap((s, j) => (Number(s) >= EXPERT_SEVERITY_ERROR ? [r['_ws.expert.message']![j]] : []));
      return r['_ws.malformed']!.length || errors.length ? [`${errors.join('; ')} in ${describeFrame(i)}`] : [];
    });
    expect(bad, bad.slice(0, 5).join('\n')).to.deep.equal([]);
  });

  it('agrees with our decoder that every checksum verifies', function () {
    const invalid = frames.flatMap((f, i) => (decodeFrame(buildFrame(f)).checksumStatus?.valid === true ? [] : [describeFrame(i)]));
    expect(invalid).to.deep.equal([]);
  });

  it('negative control: a wrong checksum is Bad to tshark and invalid to decodeFrame', function () {
    const good = sampleRelayForwardFrame();
    const correct = buildFrame(good).readUInt16BE(14 + 40 + 6); // Ethernet, IPv6, then the UDP checksum field
    const ping: Frame = {
      ...good,
      udp: undefined,
      dhcpv6: undefined,
      icmpv6: { type: 'echo-request', code: 0, identifier: 1, sequence: 1, data: Buffer.from('ping') },
    };
    const pingChecksum = buildFrame(ping).readUInt16BE(14 + 40 + 2);
    const corrupt = [buildFrame({ ...good, checksum: correct ^ 0x0101 }), buildFrame({ ...ping, checksum: pingChecksum ^ 0x0101 })];
    const pcap = join(dir, 'bad.pcap');
    writePcap(pcap, corrupt);
    const [udp, icmpv6] = tsharkFields(pcap, ['udp.checksum.status', 'icmpv6.checksum.status']);
    expect(udp!['udp.checksum.status']).to.deep.equal(['0']);
    expect(icmpv6!['icmpv6.checksum.status']).to.deep.equal(['0']);
    for (const buf of corrupt) expect(decodeFrame(buf).checksumStatus?.valid).to.equal(false);
  });
});
