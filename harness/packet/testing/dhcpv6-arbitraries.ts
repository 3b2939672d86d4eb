/**
 * fast-check arbitraries for DHCPv6 messages, options and DUIDs. Every value generated is in
 * the codec's canonical form (RFC 5952 addresses, lower-case hex), so decode(encode(v)) deep-equals v.
 * `depth` bounds encapsulation (relay messages, options inside IA options) to keep values small.
 */
import fc from 'fast-check';
import { hexColon, ipv6FromBytes } from '../../addr/bytes.ts';
import {
  DHCPV6_MESSAGE_NUMBERS,
  DHCPV6_OPTION_NUMBERS,
  DUID_TYPE_NUMBERS,
  type ClientServerMessage,
  type ClientServerMessageType,
  type Dhcpv6Message,
  type Dhcpv6Option,
  type Dhcpv6OptionType,
  type Duid,
  type OptionOf,
  type RelayMessage,
  type UnknownMessage,
} from '../dhcpv6.ts';

export const u8Arb = fc.integer({ min: 0, max: 0xff });
export const u16Arb = fc.integer({ min: 0, max: 0xffff });
export const u32Arb = fc.integer({ min: 0, max: 0xffffffff });

export const bytesArb = (maxLength = 24): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b));
export const colonHexArb = (minLength: number, maxLength: number): fc.Arbitrary<string> => fc.uint8Array({ minLength, maxLength }).map(hexColon);
export const macArb = colonHexArb(6, 6);

/** Canonical IPv6 text; zero groups are frequent so "::" compression is exercised. */
export const ipv6Arb: fc.Arbitrary<string> = fc
  .array(fc.oneof(fc.constant(0), u16Arb), { minLength: 8, maxLength: 8 })
  .map((groups) => ipv6FromBytes(Buffer.from(groups.flatMap((g) => [g >> 8, g & 0xff]))));

/** An integer in [0, max] that is not one of `taken` (for "unknown" type codes). */
const unknownCodeArb = (max: number, taken: Record<string, number>): fc.Arbitrary<number> =>
  fc.integer({ min: 0, max }).filter((n) => !Object.values(taken).includes(n));

export const duidArb: fc.Arbitrary<Duid> = fc.oneof(
  fc.record({ type: fc.constant('llt' as const), hardwareType: u16Arb, time: u32Arb, linkLayerAddress: colonHexArb(0, 16) }),
  fc.record({ type: fc.constant('en' as const), enterpriseNumber: u32Arb, identifier: bytesArb(16) }),
  fc.record({ type: fc.constant('ll' as const), hardwareType: u16Arb, linkLayerAddress: colonHexArb(0, 16) }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
    const hex = Buffer.from(b).toString('hex');
    return { type: 'uuid' as const, uuid: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` };
  }),
  fc.record({ type: fc.constant('unknown' as const), duidType: unknownCodeArb(0xffff, DUID_TYPE_NUMBERS), data: bytesArb(16) }),
);

const labelArb = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*'),
  minLength: 1,
  maxLength: 12,
});
/** Dotted names without the trailing dot; "" is the root. */
export const domainArb: fc.Arbitrary<string> = fc.array(labelArb, { maxLength: 4 }).map((labels) => labels.join('.'));

type OptionArbs = { [K in Dhcpv6OptionType]: fc.Arbitrary<OptionOf<K>> };

const optionArbsByDepth = new Map<number, OptionArbs>();

/** One arbitrary per option type, so a property can be checked for each type by name. */
export function dhcpv6OptionArbs(depth = 2): OptionArbs {
  const cached = optionArbsByDepth.get(depth);
  if (cached) return cached;
  const inner = depth > 0 ? dhcpv6OptionsArb(depth - 1) : fc.constant<Dhcpv6Option[]>([]);
  const t = <K extends Dhcpv6OptionType>(type: K) => fc.constant(type);
  const arbs: OptionArbs = {
    'client-id': fc.record({ type: t('client-id'), duid: duidArb }),
    'server-id': fc.record({ type: t('server-id'), duid: duidArb }),
    'ia-na': fc.record({ type: t('ia-na'), iaid: u32Arb, t1: u32Arb, t2: u32Arb, options: inner }),
    'ia-ta': fc.record({ type: t('ia-ta'), iaid: u32Arb, options: inner }),
    iaaddr: fc.record({ type: t('iaaddr'), address: ipv6Arb, preferredLifetime: u32Arb, validLifetime: u32Arb, options: inner }),
    oro: fc.record({ type: t('oro'), requested: fc.array(u16Arb, { maxLength: 6 }) }),
    preference: fc.record({ type: t('preference'), value: u8Arb }),
    'elapsed-time': fc.record({ type: t('elapsed-time'), centiseconds: u16Arb }),
    'relay-message': fc.record({ type: t('relay-message'), message: depth > 0 ? dhcpv6MessageArb(depth - 1) : unknownMessageArb }),
    'status-code': fc.record({ type: t('status-code'), code: u16Arb, message: fc.string({ unit: 'binary', maxLength: 20 }) }),
    'rapid-commit': fc.record({ type: t('rapid-commit') }),
    'interface-id': fc.record({ type: t('interface-id'), id: bytesArb() }),
    'reconfigure-accept': fc.record({ type: t('reconfigure-accept') }),
    'dns-servers': fc.record({ type: t('dns-servers'), servers: fc.array(ipv6Arb, { maxLength: 3 }) }),
    'domain-list': fc.record({ type: t('domain-list'), domains: fc.array(domainArb, { maxLength: 3 }) }),
    'ia-pd': fc.record({ type: t('ia-pd'), iaid: u32Arb, t1: u32Arb, t2: u32Arb, options: inner }),
    iaprefix: fc.record({
      type: t('iaprefix'),
      preferredLifetime: u32Arb,
      validLifetime: u32Arb,
      prefixLength: u8Arb,
      prefix: ipv6Arb,
      options: inner,
    }),
    'remote-id': fc.record({ type: t('remote-id'), enterpriseNumber: u32Arb, remoteId: colonHexArb(0, 12) }),
    'subscriber-id': fc.record({ type: t('subscriber-id'), id: bytesArb() }),
    'client-linklayer-addr': fc.record({ type: t('client-linklayer-addr'), linkLayerType: u16Arb, address: colonHexArb(0, 8) }),
    unknown: fc.record({ type: t('unknown'), optionCode: unknownCodeArb(0xffff, DHCPV6_OPTION_NUMBERS), data: bytesArb() }),
  };
  optionArbsByDepth.set(depth, arbs);
  return arbs;
}

export const dhcpv6OptionArb = (depth = 2): fc.Arbitrary<Dhcpv6Option> => fc.oneof(...(Object.values(dhcpv6OptionArbs(depth)) as fc.Arbitrary<Dhcpv6Option>[]));

export const dhcpv6OptionsArb = (depth = 2): fc.Arbitrary<Dhcpv6Option[]> => fc.array(dhcpv6OptionArb(depth), { maxLength: 4 });

const CLIENT_SERVER_TYPES = Object.keys(DHCPV6_MESSAGE_NUMBERS).filter(
  (name) => name !== 'relay-forward' && name !== 'relay-reply',
) as ClientServerMessageType[];

export const clientServerMessageArb = (depth = 2): fc.Arbitrary<ClientServerMessage> =>
  fc.record({
    type: fc.constantFrom(...CLIENT_SERVER_TYPES),
    transactionId: fc.integer({ min: 0, max: 0xffffff }),
    options: dhcpv6OptionsArb(depth),
  });

export const relayMessageArb = (depth = 2): fc.Arbitrary<RelayMessage> =>
  fc.record({
    type: fc.constantFrom('relay-forward' as const, 'relay-reply' as const),
    hopCount: u8Arb,
    linkAddress: ipv6Arb,
    peerAddress: ipv6Arb,
    options: dhcpv6OptionsArb(depth),
  });

export const unknownMessageArb: fc.Arbitrary<UnknownMessage> = fc.record({
  type: fc.constant('unknown' as const),
  msgType: unknownCodeArb(0xff, DHCPV6_MESSAGE_NUMBERS),
  body: bytesArb(),
});

export const dhcpv6MessageArb = (depth = 2): fc.Arbitrary<Dhcpv6Message> => fc.oneof(clientServerMessageArb(depth), relayMessageArb(depth), unknownMessageArb);
