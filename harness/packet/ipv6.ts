/** IPv6 fixed header (RFC 8200 §3) and the extension-header chain (§4): Hop-by-Hop, Routing, Fragment, Destination Options. */
import { DecodeError, need } from './errors.ts';
import { layout, Struct } from './struct.ts';
import { ipv6FromBytes, ipv6ToBytes } from '../addr/bytes.ts';

export const IPV6_HEADER_LENGTH = 40;
export const PROTO = { hopByHop: 0, tcp: 6, udp: 17, routing: 43, fragment: 44, icmpv6: 58, noNext: 59, destinationOptions: 60 } as const;

export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  hopLimit: number;
  src: string;
  dst: string;
}

/** One TLV option of a Hop-by-Hop or Destination Options header; Pad1 is optionType 0 with no data. */
export interface Ipv6Option {
  optionType: number;
  data: Buffer;
}

export type ExtensionHeader =
  | { type: 'hop-by-hop'; options: Ipv6Option[] }
  | { type: 'destination-options'; options: Ipv6Option[] }
  | { type: 'routing'; routingType: number; segmentsLeft: number; data: Buffer }
  | { type: 'fragment'; offset: number; more: boolean; identification: number; reserved?: number };

export const EXTENSION_NUMBERS: Record<ExtensionHeader['type'], number> = {
  'hop-by-hop': PROTO.hopByHop,
  routing: PROTO.routing,
  fragment: PROTO.fragment,
  'destination-options': PROTO.destinationOptions,
};

const FIXED = new Struct<{ versionClassFlow: number; payloadLength: number; nextHeader: number; hopLimit: number; src: Buffer; dst: Buffer }>(
  'ipv6',
  'header',
  layout().uint32('versionClassFlow').uint16('payloadLength').uint8('nextHeader').uint8('hopLimit').buffer('src', { length: 16 }).buffer('dst', { length: 16 }),
);
const EXT_PREFIX = new Struct<{ nextHeader: number; hdrExtLen: number }>('ipv6', 'extension', layout().uint8('nextHeader').uint8('hdrExtLen'));
const FRAGMENT = new Struct<{ nextHeader: number; reserved: number; offsetFlags: number; identification: number }>(
  'ipv6',
  'fragment',
  layout().uint8('nextHeader').uint8('reserved').uint16('offsetFlags').uint32('identification'),
);

export function encodeIpv6Header(h: Ipv6Header, nextHeader: number, payloadLength: number): Buffer {
  const out = Buffer.alloc(IPV6_HEADER_LENGTH);
  out.writeUInt32BE(((6 << 28) | ((h.trafficClass & 0xff) << 20) | (h.flowLabel & 0xfffff)) >>> 0, 0);
  out.writeUInt16BE(payloadLength, 4);
  out[6] = nextHeader;
  out[7] = h.hopLimit;
  ipv6ToBytes(h.src).copy(out, 8);
  ipv6ToBytes(h.dst).copy(out, 24);
  return out;
}

/** TLV options padded to a multiple of 8 bytes (with the 2-byte prefix) when the caller did not pad them. */
function encodeTlvOptions(options: Ipv6Option[]): Buffer {
  const parts = options.map((o) => (o.optionType === 0 ? Buffer.from([0]) : Buffer.concat([Buffer.from([o.optionType, o.data.length]), o.data])));
  const used = 2 + parts.reduce((n, p) => n + p.length, 0);
  const pad = (8 - (used % 8)) % 8;
  if (pad === 1) parts.push(Buffer.from([0]));
  else if (pad > 1) parts.push(Buffer.concat([Buffer.from([1, pad - 2]), Buffer.alloc(pad - 2)]));
  return Buffer.concat(parts);
}

export function encodeExtension(e: ExtensionHeader, nextHeader: number): Buffer {
  switch (e.type) {
    case 'hop-by-hop':
    case 'destination-options': {
      const body = encodeTlvOptions(e.options);
      return Buffer.concat([Buffer.from([nextHeader, (body.length + 2) / 8 - 1]), body]);
    }
    case 'routing': {
      const used = 4 + e.data.length;
      const total = Math.ceil(Math.max(used, 8) / 8) * 8;
      const out = Buffer.alloc(total);
      out[0] = nextHeader;
      out[1] = total / 8 - 1;
      out[2] = e.routingType;
      out[3] = e.segmentsLeft;
      e.data.copy(out, 4);
      return out;
    }
    case 'fragment': {
      const out = Buffer.alloc(8);
      out[0] = nextHeader;
      out[1] = e.reserved ?? 0;
      out.writeUInt16BE(((e.offset & 0x1fff) << 3) | (e.more ? 1 : 0), 2);
      out.writeUInt32BE(e.identification >>> 0, 4);
      return out;
    }
  }
}

function decodeTlvOptions(buf: Buffer, base: number): Ipv6Option[] {
  const options: Ipv6Option[] = [];
  let at = 0;
  while (at < buf.length) {
    const optionType = buf[at]!;
    if (optionType === 0) {
      options.push({ optionType, data: Buffer.alloc(0) });
      at += 1;
      continue;
    }
    need(buf, at, 2, 'ipv6', 'option', base);
    const len = buf[at + 1]!;
    need(buf, at + 2, len, 'ipv6', `option ${optionType} data`, base);
    options.push({ optionType, data: Buffer.from(buf.subarray(at + 2, at + 2 + len)) });
    at += 2 + len;
  }
  return options;
}

function isExtension(nextHeader: number): boolean {
  return nextHeader === PROTO.hopByHop || nextHeader === PROTO.routing || nextHeader === PROTO.fragment || nextHeader === PROTO.destinationOptions;
}

export interface DecodedIpv6 {
  header: Ipv6Header;
  extensions: ExtensionHeader[];
  /** Upper-layer protocol after the chain (59 when there is none). */
  protocol: number;
  /** Upper-layer bytes and their absolute offset in the frame. */
  payload: Buffer;
  payloadOffset: number;
}

/** Decodes the packet at `buf[0]`; `base` is its offset in the frame. Link-layer padding after the payload is ignored. */
export function decodeIpv6(buf: Buffer, base: number): DecodedIpv6 {
  const f = FIXED.read(buf, 0, base);
  const version = f.versionClassFlow >>> 28;
  if (version !== 6) throw new DecodeError('ipv6', 'version', base, `is ${version}, expected 6`);
  need(buf, IPV6_HEADER_LENGTH, f.payloadLength, 'ipv6', 'payload', base);
  const packet = buf.subarray(0, IPV6_HEADER_LENGTH + f.payloadLength);
  const header: Ipv6Header = {
    trafficClass: (f.versionClassFlow >>> 20) & 0xff,
    flowLabel: f.versionClassFlow & 0xfffff,
    hopLimit: f.hopLimit,
    src: ipv6FromBytes(f.src),
    dst: ipv6FromBytes(f.dst),
  };
  const extensions: ExtensionHeader[] = [];
  let next = f.nextHeader;
  let at = IPV6_HEADER_LENGTH;
  while (isExtension(next)) {
    if (next === PROTO.fragment) {
      const fr = FRAGMENT.read(packet, at, base);
      extensions.push({
        type: 'fragment',
        offset: fr.offsetFlags >>> 3,
        more: (fr.offsetFlags & 1) === 1,
        identification: fr.identification,
        ...(fr.reserved ? { reserved: fr.reserved } : {}),
      });
      next = fr.nextHeader;
      at += FRAGMENT.size;
      // A later fragment's data continues the first fragment's chain: nothing after its header is a header.
      if (fr.offsetFlags >>> 3 !== 0) break;
      continue;
    }
    const p = EXT_PREFIX.read(packet, at, base);
    const len = (p.hdrExtLen + 1) * 8;
    need(packet, at, len, 'ipv6', 'extension', base);
    const body = packet.subarray(at + 2, at + len);
    if (next === PROTO.routing) {
      extensions.push({ type: 'routing', routingType: body[0]!, segmentsLeft: body[1]!, data: Buffer.from(body.subarray(2)) });
    } else {
      const type = next === PROTO.hopByHop ? 'hop-by-hop' : 'destination-options';
      extensions.push({ type, options: decodeTlvOptions(body, base + at + 2) });
    }
    next = p.nextHeader;
    at += len;
  }
  return { header, extensions, protocol: next, payload: packet.subarray(at), payloadOffset: base + at };
}
