/**
 * ICMPv6 messages (RFC 4443), Neighbor Discovery messages (RFC 4861) and the MLDv2 report
 * (RFC 3810 §5.2). The checksum needs the IPv6 pseudo-header, so it belongs to the IPv6 layer:
 * encoding leaves bytes 2..3 zero and decoding ignores them.
 *
 * Fields that later RFCs or RFC 4884 senders may set (flag remainders, the error messages'
 * "unused" word, `code`) are kept so re-encoding a valid message is byte-exact; fields that
 * must be zero and are ignored by receivers are dropped and encoded as zero.
 * Types without a model here (MLDv1, MLDv2 query, …) decode as `unknown`; `unknown` may also
 * carry a known type number to send deliberately malformed messages.
 */
import { ipv6FromBytes, ipv6ToBytes } from '../addr/bytes.ts';
import { DecodeError, need } from './errors.ts';
import { checkUint, decodeNdOptions, encodeNdOptions, type NdOption } from './nd-options.ts';
import { layout, Struct } from './struct.ts';

interface Echo<T> {
  type: T;
  code: number;
  identifier: number;
  sequence: number;
  data: Buffer;
}
export type EchoRequest = Echo<'echo-request'>;
export type EchoReply = Echo<'echo-reply'>;

/** Error messages end with as much of the invoking packet as fits in the minimum MTU. */
interface ErrorMessage<T> {
  type: T;
  code: number;
  invoking: Buffer;
}
/** `unused`: RFC 4884 senders put the original datagram's length (8-byte units) in its top byte. */
export type DestinationUnreachable = ErrorMessage<'destination-unreachable'> & { unused: number };
export type PacketTooBig = ErrorMessage<'packet-too-big'> & { mtu: number };
export type TimeExceeded = ErrorMessage<'time-exceeded'> & { unused: number };
export type ParameterProblem = ErrorMessage<'parameter-problem'> & { pointer: number };

export interface MulticastAddressRecord {
  recordType: number;
  /** Length must be a multiple of 4 (its length field counts 32-bit words). */
  auxData: Buffer;
  multicastAddress: string;
  sources: string[];
}
export interface Mld2Report {
  type: 'mld2-report';
  code: number;
  records: MulticastAddressRecord[];
}

export interface RouterSolicitation {
  type: 'router-solicitation';
  code: number;
  options: NdOption[];
}

/** RFC 4191 §2.2 Default Router Preference; 'reserved' (binary 10) is read as medium by hosts. */
export type RouterPreference = 'medium' | 'high' | 'reserved' | 'low';
const PREFERENCES: readonly RouterPreference[] = ['medium', 'high', 'reserved', 'low']; // index = the 2-bit value

export interface RouterAdvertisement {
  type: 'router-advertisement';
  code: number;
  curHopLimit: number;
  managed: boolean;
  other: boolean;
  /** H flag, RFC 6275 §7.1. */
  homeAgent: boolean;
  preference: RouterPreference;
  /** P flag, RFC 4389 §4.1.3.3. */
  proxy: boolean;
  /** The two low flag bits (RFC 5175 reserves them for more flags). */
  reserved: number;
  routerLifetime: number;
  reachableTime: number;
  retransTimer: number;
  options: NdOption[];
}

export interface NeighborSolicitation {
  type: 'neighbor-solicitation';
  code: number;
  target: string;
  options: NdOption[];
}

export interface NeighborAdvertisement {
  type: 'neighbor-advertisement';
  code: number;
  router: boolean;
  solicited: boolean;
  override: boolean;
  /** The 29 bits after R, S, O. */
  reserved: number;
  target: string;
  options: NdOption[];
}

export interface Redirect {
  type: 'redirect';
  code: number;
  target: string;
  destination: string;
  options: NdOption[];
}

export interface UnknownIcmpv6 {
  type: 'unknown';
  icmpType: number;
  code: number;
  /** Everything after the checksum. */
  body: Buffer;
}

export type Icmpv6Message =
  | EchoRequest
  | EchoReply
  | DestinationUnreachable
  | PacketTooBig
  | TimeExceeded
  | ParameterProblem
  | Mld2Report
  | RouterSolicitation
  | RouterAdvertisement
  | NeighborSolicitation
  | NeighborAdvertisement
  | Redirect
  | UnknownIcmpv6;

export type Icmpv6TypeName = Exclude<Icmpv6Message['type'], 'unknown'>;

export const ICMPV6_TYPE_NUMBERS = {
  'destination-unreachable': 1,
  'packet-too-big': 2,
  'time-exceeded': 3,
  'parameter-problem': 4,
  'echo-request': 128,
  'echo-reply': 129,
  'router-solicitation': 133,
  'router-advertisement': 134,
  'neighbor-solicitation': 135,
  'neighbor-advertisement': 136,
  redirect: 137,
  'mld2-report': 143,
} as const satisfies Record<Icmpv6TypeName, number>;

const LAYER = 'icmpv6';
const T = ICMPV6_TYPE_NUMBERS;

// Fixed layouts; every offset below 4 is the type/code/checksum header.
const HEADER = new Struct<{ type: number; code: number }>(LAYER, 'header', layout().uint8('type').uint8('code').uint16('checksum'));
const BODY = 4;
const ECHO = new Struct<{ identifier: number; sequence: number }>(LAYER, 'echo', layout().uint16('identifier').uint16('sequence'));
const word = (name: string) => new Struct<{ value: number }>(LAYER, name, layout().uint32('value'));
const UNUSED = word('unused');
const MTU = word('mtu');
const POINTER = word('pointer');
const ERROR_INVOKING = BODY + 4;
const MLD2_REPORT = new Struct<{ count: number }>(LAYER, 'mld2-report', layout().seek(2).uint16('count'));
const MLD2_RECORD = new Struct<{ recordType: number; auxWords: number; sourceCount: number; multicastAddress: Buffer }>(
  LAYER,
  'record',
  layout().uint8('recordType').uint8('auxWords').uint16('sourceCount').buffer('multicastAddress', { length: 16 }),
);
const RS = new Struct<object>(LAYER, 'router-solicitation', layout().seek(4));
const RA = new Struct<{ curHopLimit: number; flags: number; routerLifetime: number; reachableTime: number; retransTimer: number }>(
  LAYER,
  'router-advertisement',
  layout().uint8('curHopLimit').uint8('flags').uint16('routerLifetime').uint32('reachableTime').uint32('retransTimer'),
);
const NS = new Struct<{ target: Buffer }>(LAYER, 'neighbor-solicitation', layout().seek(4).buffer('target', { length: 16 }));
const NA = new Struct<{ flags: number; target: Buffer }>(LAYER, 'neighbor-advertisement', layout().uint32('flags').buffer('target', { length: 16 }));
const REDIRECT = new Struct<{ target: Buffer; destination: Buffer }>(
  LAYER,
  'redirect',
  layout().seek(4).buffer('target', { length: 16 }).buffer('destination', { length: 16 }),
);

const RA_FLAG = { managed: 0x80, other: 0x40, homeAgent: 0x20, proxy: 0x04 } as const;
const RA_PREFERENCE_SHIFT = 3;
const RA_RESERVED_MASK = 0x03;
const NA_FLAG = { router: 2 ** 31, solicited: 2 ** 30, override: 2 ** 29 } as const;
const NA_RESERVED_BITS = 29;

/** Decodes a whole ICMPv6 message; `base` is the absolute offset of buf[0] in the frame, for errors. */
export function decodeIcmpv6(buf: Buffer, base = 0): Icmpv6Message {
  const { type, code } = HEADER.read(buf, 0, base);
  const tail = (from: number) => Buffer.from(buf.subarray(from));
  const options = (from: number) => decodeNdOptions(buf, from, base);
  switch (type) {
    case T['echo-request']:
      return { type: 'echo-request', code, ...ECHO.read(buf, BODY, base), data: tail(BODY + ECHO.size) };
    case T['echo-reply']:
      return { type: 'echo-reply', code, ...ECHO.read(buf, BODY, base), data: tail(BODY + ECHO.size) };
    case T['destination-unreachable']:
      return { type: 'destination-unreachable', code, unused: UNUSED.read(buf, BODY, base).value, invoking: tail(ERROR_INVOKING) };
    case T['packet-too-big']:
      return { type: 'packet-too-big', code, mtu: MTU.read(buf, BODY, base).value, invoking: tail(ERROR_INVOKING) };
    case T['time-exceeded']:
      return { type: 'time-exceeded', code, unused: UNUSED.read(buf, BODY, base).value, invoking: tail(ERROR_INVOKING) };
    case T['parameter-problem']:
      return { type: 'parameter-problem', code, pointer: POINTER.read(buf, BODY, base).value, invoking: tail(ERROR_INVOKING) };
    case T['mld2-report']:
      return { type: 'mld2-report', code, records: decodeMld2Records(buf, base) };
    case T['router-solicitation']:
      RS.read(buf, BODY, base);
      return { type: 'router-solicitation', code, options: options(BODY + RS.size) };
    case T['router-advertisement']: {
      const { flags, ...ra } = RA.read(buf, BODY, base);
      return {
        type: 'router-advertisement',
        code,
        curHopLimit: ra.curHopLimit,
        managed: (flags & RA_FLAG.managed) !== 0,
        other: (flags & RA_FLAG.other) !== 0,
        homeAgent: (flags & RA_FLAG.homeAgent) !== 0,
        preference: PREFERENCES[(flags >> RA_PREFERENCE_SHIFT) & 0x03]!,
        proxy: (flags & RA_FLAG.proxy) !== 0,
        reserved: flags & RA_RESERVED_MASK,
        routerLifetime: ra.routerLifetime,
        reachableTime: ra.reachableTime,
        retransTimer: ra.retransTimer,
        options: options(BODY + RA.size),
      };
    }
    case T['neighbor-solicitation']: {
      const ns = NS.read(buf, BODY, base);
      return { type: 'neighbor-solicitation', code, target: ipv6FromBytes(ns.target), options: options(BODY + NS.size) };
    }
    case T['neighbor-advertisement']: {
      const na = NA.read(buf, BODY, base);
      return {
        type: 'neighbor-advertisement',
        code,
        router: (na.flags & NA_FLAG.router) !== 0,
        solicited: (na.flags & NA_FLAG.solicited) !== 0,
        override: (na.flags & NA_FLAG.override) !== 0,
        reserved: na.flags & (NA_FLAG.override - 1),
        target: ipv6FromBytes(na.target),
        options: options(BODY + NA.size),
      };
    }
    case T.redirect: {
      const r = REDIRECT.read(buf, BODY, base);
      return {
        type: 'redirect',
        code,
        target: ipv6FromBytes(r.target),
        destination: ipv6FromBytes(r.destination),
        options: options(BODY + REDIRECT.size),
      };
    }
    default:
      return { type: 'unknown', icmpType: type, code, body: tail(BODY) };
  }
}

/** The record count is explicit, so bytes left after the last record are an error rather than silently dropped. */
function decodeMld2Records(buf: Buffer, base: number): MulticastAddressRecord[] {
  const { count } = MLD2_REPORT.read(buf, BODY, base);
  const records: MulticastAddressRecord[] = [];
  let at = BODY + MLD2_REPORT.size;
  for (let i = 0; i < count; i++) {
    const r = MLD2_RECORD.read(buf, at, base);
    at += MLD2_RECORD.size;
    need(buf, at, r.sourceCount * 16, LAYER, 'record.sources', base);
    const sources = Array.from({ length: r.sourceCount }, (_, s) => ipv6FromBytes(buf, at + s * 16));
    at += r.sourceCount * 16;
    need(buf, at, r.auxWords * 4, LAYER, 'record.auxData', base);
    const auxData = Buffer.from(buf.subarray(at, at + r.auxWords * 4));
    at += r.auxWords * 4;
    records.push({ recordType: r.recordType, auxData, multicastAddress: ipv6FromBytes(r.multicastAddress), sources });
  }
  if (at !== buf.length) throw new DecodeError(LAYER, 'records', base + at, `${buf.length - at} bytes after the last of ${count} records`);
  return records;
}

/** The whole message with the checksum field zero, for the IPv6 layer to fill in. */
export function encodeIcmpv6(msg: Icmpv6Message): Buffer {
  const type = msg.type === 'unknown' ? msg.icmpType : ICMPV6_TYPE_NUMBERS[msg.type];
  const header = Buffer.alloc(BODY);
  header.writeUInt8(type, 0);
  header.writeUInt8(msg.code, 1);
  return Buffer.concat([header, ...encodeBody(msg)]);
}

/** The parts after the type/code/checksum header. */
function encodeBody(msg: Icmpv6Message): Buffer[] {
  switch (msg.type) {
    case 'echo-request':
    case 'echo-reply':
      return [u16(msg.identifier), u16(msg.sequence), msg.data];
    case 'destination-unreachable':
    case 'time-exceeded':
      return [u32(msg.unused), msg.invoking];
    case 'packet-too-big':
      return [u32(msg.mtu), msg.invoking];
    case 'parameter-problem':
      return [u32(msg.pointer), msg.invoking];
    case 'mld2-report':
      return [u16(0), u16(msg.records.length), ...msg.records.flatMap(encodeMld2Record)];
    case 'router-solicitation':
      return [u32(0), encodeNdOptions(msg.options)];
    case 'router-advertisement':
      return [u8(msg.curHopLimit), u8(raFlags(msg)), u16(msg.routerLifetime), u32(msg.reachableTime), u32(msg.retransTimer), encodeNdOptions(msg.options)];
    case 'neighbor-solicitation':
      return [u32(0), ipv6ToBytes(msg.target), encodeNdOptions(msg.options)];
    case 'neighbor-advertisement': {
      // Sums, not |: bit 31 would make a bitwise result negative.
      const flags =
        (msg.router ? NA_FLAG.router : 0) +
        (msg.solicited ? NA_FLAG.solicited : 0) +
        (msg.override ? NA_FLAG.override : 0) +
        checkUint(msg.reserved, NA_RESERVED_BITS, 'neighbor-advertisement.reserved');
      return [u32(flags), ipv6ToBytes(msg.target), encodeNdOptions(msg.options)];
    }
    case 'redirect':
      return [u32(0), ipv6ToBytes(msg.target), ipv6ToBytes(msg.destination), encodeNdOptions(msg.options)];
    case 'unknown':
      return [msg.body];
  }
}

function raFlags(ra: RouterAdvertisement): number {
  const preference = PREFERENCES.indexOf(ra.preference);
  if (preference < 0) {
    throw new RangeError(`router-advertisement.preference: '${String(ra.preference)}' is not one of ${PREFERENCES.join(', ')}`);
  }
  return (
    (ra.managed ? RA_FLAG.managed : 0) |
    (ra.other ? RA_FLAG.other : 0) |
    (ra.homeAgent ? RA_FLAG.homeAgent : 0) |
    (preference << RA_PREFERENCE_SHIFT) |
    (ra.proxy ? RA_FLAG.proxy : 0) |
    checkUint(ra.reserved, 2, 'router-advertisement.reserved')
  );
}

function encodeMld2Record(r: MulticastAddressRecord): Buffer[] {
  if (r.auxData.length % 4 !== 0) throw new RangeError(`mld2 record auxData is ${r.auxData.length} bytes, not a multiple of 4`);
  return [u8(r.recordType), u8(r.auxData.length / 4), u16(r.sources.length), ipv6ToBytes(r.multicastAddress), ...r.sources.map(ipv6ToBytes), r.auxData];
}

// Range-checked big-endian integers (Buffer's writers throw RangeError when a value does not fit).
function u8(value: number): Buffer {
  const b = Buffer.alloc(1);
  b.writeUInt8(value);
  return b;
}
function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}
function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}
