/**
 * Neighbor Discovery options (RFC 4861 §4.6, nonce RFC 3971 §5.3.2, RDNSS RFC 8106 §5.1):
 * the type-length-value list that ends RS, RA, NS, NA and Redirect messages.
 * Length counts 8-byte units including the 2-byte type/length header.
 *
 * Variable payloads (link-layer address, nonce, redirected header, unknown data) are the
 * option's whole payload: decoding keeps any zero padding, encoding pads with zeros to the
 * next 8-byte boundary. A 6-byte MAC fills a 1-unit option exactly.
 */
import { hexColon, hexColonToBytes, ipv6FromBytes, ipv6ToBytes } from '../addr/bytes.ts';
import { DecodeError, need } from './errors.ts';
import { layout, Struct } from './struct.ts';

export interface LinkLayerAddressFields {
  /** Colon-hex, normally a 6-byte MAC. */
  address: string;
}
export type SourceLinkLayerAddressOption = { type: 'source-link-layer-address' } & LinkLayerAddressFields;
export type TargetLinkLayerAddressOption = { type: 'target-link-layer-address' } & LinkLayerAddressFields;

export interface PrefixInformationOption {
  type: 'prefix-information';
  prefixLength: number;
  /** L flag. */
  onLink: boolean;
  /** A flag: usable for SLAAC. */
  autonomous: boolean;
  /** The low 6 flag bits, kept for byte-exact re-encoding: R = 0x20 (RFC 6275), P = 0x10 (RFC 9762). */
  otherFlags: number;
  validLifetime: number;
  preferredLifetime: number;
  /** All 16 bytes as sent, bits past prefixLength included. */
  prefix: string;
}

export interface RedirectedHeaderOption {
  type: 'redirected-header';
  /** The redirected packet's IPv6 header and data (truncated by the sender). */
  data: Buffer;
}

export interface MtuOption {
  type: 'mtu';
  mtu: number;
}

export interface NonceOption {
  type: 'nonce';
  nonce: Buffer;
}

export interface RdnssOption {
  type: 'rdnss';
  lifetime: number;
  servers: string[];
}

export interface UnknownNdOption {
  type: 'unknown';
  optionType: number;
  data: Buffer;
}

export type NdOption =
  | SourceLinkLayerAddressOption
  | TargetLinkLayerAddressOption
  | PrefixInformationOption
  | RedirectedHeaderOption
  | MtuOption
  | NonceOption
  | RdnssOption
  | UnknownNdOption;

export type NdOptionName = Exclude<NdOption['type'], 'unknown'>;

export const ND_OPTION_NUMBERS = {
  'source-link-layer-address': 1,
  'target-link-layer-address': 2,
  'prefix-information': 3,
  'redirected-header': 4,
  mtu: 5,
  nonce: 14,
  rdnss: 25,
} as const satisfies Record<NdOptionName, number>;

const LAYER = 'nd-option';
const UNIT = 8;
const MAX_UNITS = 255;

/** Throws a RangeError unless `value` fits an unsigned field of `bits` bits (flag remainders share a byte with named flags). */
export function checkUint(value: number, bits: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new RangeError(`${field} must be an integer in 0..${2 ** bits - 1}, got ${value}`);
  }
  return value;
}

// Fixed parts after the 2-byte type/length header.
const HEADER = new Struct<{ type: number; length: number }>(LAYER, 'header', layout().uint8('type').uint8('length'));
const PREFIX_INFORMATION = new Struct<{
  prefixLength: number;
  flags: number;
  validLifetime: number;
  preferredLifetime: number;
  prefix: Buffer;
}>(
  LAYER,
  'prefix-information',
  layout()
    .uint8('prefixLength')
    .uint8('flags')
    .uint32('validLifetime')
    .uint32('preferredLifetime')
    .seek(4) // Reserved2
    .buffer('prefix', { length: 16 }),
);
const MTU = new Struct<{ mtu: number }>(LAYER, 'mtu', layout().seek(2).uint32('mtu'));
const RDNSS = new Struct<{ lifetime: number }>(LAYER, 'rdnss', layout().seek(2).uint32('lifetime'));
const REDIRECTED_HEADER_RESERVED = 6;

const L_FLAG = 0x80;
const A_FLAG = 0x40;

/** Decodes the options from `offset` to the end of `buf`; `base` is the absolute offset of buf[0]. */
export function decodeNdOptions(buf: Buffer, offset: number, base = 0): NdOption[] {
  const options: NdOption[] = [];
  for (let at = offset; at < buf.length;) {
    const { type, length } = HEADER.read(buf, at, base);
    if (length === 0) throw new DecodeError(LAYER, 'length', base + at + 1, 'zero length (RFC 4861 §4.6)');
    need(buf, at, length * UNIT, LAYER, optionName(type), base);
    options.push(decodeOption(type, buf.subarray(at + 2, at + length * UNIT), base + at + 2));
    at += length * UNIT;
  }
  return options;
}

function optionName(type: number): string {
  return Object.entries(ND_OPTION_NUMBERS).find(([, n]) => n === type)?.[0] ?? `option ${type}`;
}

/** `body` is the option after its type/length header; `base` its absolute offset. */
function decodeOption(type: number, body: Buffer, base: number): NdOption {
  const copy = (from = 0) => Buffer.from(body.subarray(from));
  switch (type) {
    case ND_OPTION_NUMBERS['source-link-layer-address']:
      return { type: 'source-link-layer-address', address: hexColon(body) };
    case ND_OPTION_NUMBERS['target-link-layer-address']:
      return { type: 'target-link-layer-address', address: hexColon(body) };
    case ND_OPTION_NUMBERS['prefix-information']: {
      const p = readExact(PREFIX_INFORMATION, body, base);
      return {
        type: 'prefix-information',
        prefixLength: p.prefixLength,
        onLink: (p.flags & L_FLAG) !== 0,
        autonomous: (p.flags & A_FLAG) !== 0,
        otherFlags: p.flags & ~(L_FLAG | A_FLAG),
        validLifetime: p.validLifetime,
        preferredLifetime: p.preferredLifetime,
        prefix: ipv6FromBytes(p.prefix),
      };
    }
    case ND_OPTION_NUMBERS['redirected-header']:
      return { type: 'redirected-header', data: copy(REDIRECTED_HEADER_RESERVED) };
    case ND_OPTION_NUMBERS.mtu:
      return { type: 'mtu', mtu: readExact(MTU, body, base).mtu };
    case ND_OPTION_NUMBERS.nonce:
      return { type: 'nonce', nonce: copy() };
    case ND_OPTION_NUMBERS.rdnss: {
      const { lifetime } = RDNSS.read(body, 0, base);
      const servers: string[] = [];
      if ((body.length - RDNSS.size) % 16 !== 0) {
        throw new DecodeError(LAYER, 'rdnss.servers', base + RDNSS.size, 'length must be odd: 1 unit + 2 per address (RFC 8106 §5.1)');
      }
      for (let at = RDNSS.size; at < body.length; at += 16) servers.push(ipv6FromBytes(body, at));
      return { type: 'rdnss', lifetime, servers };
    }
    default:
      return { type: 'unknown', optionType: type, data: copy() };
  }
}

/** Reads a fixed-size option, whose length field must match its size exactly (RFC 4861 §4.6). */
function readExact<T>(struct: Struct<T>, body: Buffer, base: number): T {
  const value = struct.read(body, 0, base);
  if (body.length !== struct.size) {
    throw new DecodeError(LAYER, `${struct.name}.length`, base - 1, `${body.length + 2} bytes, must be ${struct.size + 2}`);
  }
  return value;
}

export function encodeNdOptions(options: readonly NdOption[]): Buffer {
  return Buffer.concat(options.map(encodeNdOption));
}

export function encodeNdOption(option: NdOption): Buffer {
  switch (option.type) {
    case 'source-link-layer-address':
    case 'target-link-layer-address':
      return tlv(ND_OPTION_NUMBERS[option.type], hexColonToBytes(option.address));
    case 'prefix-information': {
      const body = Buffer.alloc(PREFIX_INFORMATION.size);
      const flags = (option.onLink ? L_FLAG : 0) | (option.autonomous ? A_FLAG : 0) | checkUint(option.otherFlags, 6, 'otherFlags');
      body.writeUInt8(option.prefixLength, 0);
      body.writeUInt8(flags, 1);
      body.writeUInt32BE(option.validLifetime, 2);
      body.writeUInt32BE(option.preferredLifetime, 6);
      ipv6ToBytes(option.prefix).copy(body, 14);
      return tlv(ND_OPTION_NUMBERS['prefix-information'], body);
    }
    case 'redirected-header':
      return tlv(ND_OPTION_NUMBERS['redirected-header'], Buffer.concat([Buffer.alloc(REDIRECTED_HEADER_RESERVED), option.data]));
    case 'mtu': {
      const body = Buffer.alloc(MTU.size);
      body.writeUInt32BE(option.mtu, 2);
      return tlv(ND_OPTION_NUMBERS.mtu, body);
    }
    case 'nonce':
      return tlv(ND_OPTION_NUMBERS.nonce, option.nonce);
    case 'rdnss': {
      const fixed = Buffer.alloc(RDNSS.size);
      fixed.writeUInt32BE(option.lifetime, 2);
      return tlv(ND_OPTION_NUMBERS.rdnss, Buffer.concat([fixed, ...option.servers.map(ipv6ToBytes)]));
    }
    case 'unknown':
      return tlv(option.optionType, option.data);
  }
}

/** Type, length in 8-byte units, body, zero padding to the unit boundary. */
function tlv(type: number, body: Uint8Array): Buffer {
  const units = Math.ceil((body.length + 2) / UNIT);
  if (units > MAX_UNITS) throw new RangeError(`ND option ${type} needs ${units} units of 8 bytes, at most ${MAX_UNITS} fit`);
  const out = Buffer.alloc(units * UNIT);
  out.writeUInt8(type, 0);
  out.writeUInt8(units, 1);
  out.set(body, 2);
  return out;
}
