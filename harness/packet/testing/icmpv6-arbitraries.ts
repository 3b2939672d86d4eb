/**
 * fast-check arbitraries for ICMPv6 messages and ND options, for codec tests and for other
 * layers' tests that need realistic payloads. Every generated value round-trips exactly:
 * addresses are canonical (made from random bytes), padded payloads are already 8-byte aligned.
 */
import fc from 'fast-check';
import { hexColon, ipv6FromBytes } from '../../addr/bytes.ts';
import { ICMPV6_TYPE_NUMBERS, type Icmpv6Message, type MulticastAddressRecord, type RouterPreference } from '../icmpv6.ts';
import { ND_OPTION_NUMBERS, type NdOption } from '../nd-options.ts';

type ByType<U extends { type: string }> = { [K in U['type']]: fc.Arbitrary<Extract<U, { type: K }>> };

export const arbBytes = (minLength: number, maxLength: number): fc.Arbitrary<Buffer> => fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a));

/** Canonical RFC 5952 text of 16 random bytes. */
export const arbIpv6Address: fc.Arbitrary<string> = arbBytes(16, 16).map((b) => ipv6FromBytes(b));

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Mostly 0, as valid senders use, sometimes any value (the codec keeps it). */
const code = fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: u8, weight: 1 });

/** An option payload of `8n - headerBytes` bytes: fills whole 8-byte units, so no padding is added. */
const alignedPayload = (headerBytes: number, maxUnits: number) =>
  fc.integer({ min: headerBytes === 2 ? 1 : 0, max: maxUnits }).chain((n) => arbBytes(8 * n - headerBytes, 8 * n - headerBytes));

const linkLayerAddress = fc.oneof({ arbitrary: arbBytes(6, 6), weight: 4 }, { arbitrary: alignedPayload(2, 3), weight: 1 }).map(hexColon);

const knownOptionTypes = new Set<number>(Object.values(ND_OPTION_NUMBERS));
const knownMessageTypes = new Set<number>(Object.values(ICMPV6_TYPE_NUMBERS));

export const ndOptionArbitraries: ByType<NdOption> = {
  'source-link-layer-address': fc.record({ type: fc.constant('source-link-layer-address'), address: linkLayerAddress }),
  'target-link-layer-address': fc.record({ type: fc.constant('target-link-layer-address'), address: linkLayerAddress }),
  'prefix-information': fc.record({
    type: fc.constant('prefix-information'),
    prefixLength: u8,
    onLink: fc.boolean(),
    autonomous: fc.boolean(),
    otherFlags: fc.integer({ min: 0, max: 0x3f }),
    validLifetime: u32,
    preferredLifetime: u32,
    prefix: arbIpv6Address,
  }),
  // The 6 reserved bytes after the header leave whole units for the data.
  'redirected-header': fc.record({ type: fc.constant('redirected-header'), data: alignedPayload(0, 8) }),
  mtu: fc.record({ type: fc.constant('mtu'), mtu: u32 }),
  nonce: fc.record({ type: fc.constant('nonce'), nonce: alignedPayload(2, 3) }),
  rdnss: fc.record({ type: fc.constant('rdnss'), lifetime: u32, servers: fc.array(arbIpv6Address, { maxLength: 4 }) }),
  unknown: fc.record({
    type: fc.constant('unknown'),
    optionType: u8.filter((t) => !knownOptionTypes.has(t)),
    data: alignedPayload(2, 4),
  }),
};

export const arbNdOption: fc.Arbitrary<NdOption> = fc.oneof(...Object.values(ndOptionArbitraries));
export const arbNdOptions: fc.Arbitrary<NdOption[]> = fc.array(arbNdOption, { maxLength: 5 });

const arbRecord: fc.Arbitrary<MulticastAddressRecord> = fc.record({
  recordType: u8,
  auxData: fc.integer({ min: 0, max: 3 }).chain((words) => arbBytes(4 * words, 4 * words)),
  multicastAddress: arbIpv6Address,
  sources: fc.array(arbIpv6Address, { maxLength: 3 }),
});

const preference = fc.constantFrom<RouterPreference>('medium', 'high', 'low', 'reserved');
const payload = arbBytes(0, 64);

export const icmpv6MessageArbitraries: ByType<Icmpv6Message> = {
  'echo-request': fc.record({ type: fc.constant('echo-request'), code, identifier: u16, sequence: u16, data: payload }),
  'echo-reply': fc.record({ type: fc.constant('echo-reply'), code, identifier: u16, sequence: u16, data: payload }),
  'destination-unreachable': fc.record({ type: fc.constant('destination-unreachable'), code: u8, unused: u32, invoking: payload }),
  'packet-too-big': fc.record({ type: fc.constant('packet-too-big'), code, mtu: u32, invoking: payload }),
  'time-exceeded': fc.record({ type: fc.constant('time-exceeded'), code: u8, unused: u32, invoking: payload }),
  'parameter-problem': fc.record({ type: fc.constant('parameter-problem'), code: u8, pointer: u32, invoking: payload }),
  'mld2-report': fc.record({ type: fc.constant('mld2-report'), code, records: fc.array(arbRecord, { maxLength: 4 }) }),
  'router-solicitation': fc.record({ type: fc.constant('router-solicitation'), code, options: arbNdOptions }),
  'router-advertisement': fc.record({
    type: fc.constant('router-advertisement'),
    code,
    curHopLimit: u8,
    managed: fc.boolean(),
    other: fc.boolean(),
    homeAgent: fc.boolean(),
    preference,
    proxy: fc.boolean(),
    reserved: fc.integer({ min: 0, max: 3 }),
    routerLifetime: u16,
    reachableTime: u32,
    retransTimer: u32,
    options: arbNdOptions,
  }),
  'neighbor-solicitation': fc.record({ type: fc.constant('neighbor-solicitation'), code, target: arbIpv6Address, options: arbNdOptions }),
  'neighbor-advertisement': fc.record({
    type: fc.constant('neighbor-advertisement'),
    code,
    router: fc.boolean(),
    solicited: fc.boolean(),
    override: fc.boolean(),
    reserved: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 29 - 1 })),
    target: arbIpv6Address,
    options: arbNdOptions,
  }),
  redirect: fc.record({ type: fc.constant('redirect'), code, target: arbIpv6Address, destination: arbIpv6Address, options: arbNdOptions }),
  unknown: fc.record({ type: fc.constant('unknown'), icmpType: u8.filter((t) => !knownMessageTypes.has(t)), code: u8, body: payload }),
};

export const arbIcmpv6Message: fc.Arbitrary<Icmpv6Message> = fc.oneof(...Object.values(icmpv6MessageArbitraries));
