/** UDP header (RFC 768); the checksum over the IPv6 pseudo-header is filled in by the frame builder. */
import { DecodeError } from './errors.ts';
import { layout, Struct } from './struct.ts';

export const UDP_HEADER_LENGTH = 8;

export interface UdpHeader {
  srcPort: number;
  dstPort: number;
}

const HEADER = new Struct<{ srcPort: number; dstPort: number; length: number; checksum: number }>(
  'udp',
  'header',
  layout().uint16('srcPort').uint16('dstPort').uint16('length').uint16('checksum'),
);

/** Header + payload with the checksum field zero. */
export function encodeUdp(h: UdpHeader, payload: Buffer): Buffer {
  const out = Buffer.alloc(UDP_HEADER_LENGTH + payload.length);
  out.writeUInt16BE(h.srcPort, 0);
  out.writeUInt16BE(h.dstPort, 2);
  out.writeUInt16BE(out.length & 0xffff, 4);
  payload.copy(out, UDP_HEADER_LENGTH);
  return out;
}

/** Decodes the datagram that fills `buf` exactly (the IPv6 payload); `base` is buf's offset in the frame. */
export function decodeUdp(buf: Buffer, base: number): { header: UdpHeader; checksum: number; payload: Buffer } {
  const h = HEADER.read(buf, 0, base);
  if (h.length !== buf.length) {
    throw new DecodeError('udp', 'length', base + 4, `says ${h.length} bytes, the IPv6 payload holds ${buf.length}`);
  }
  return { header: { srcPort: h.srcPort, dstPort: h.dstPort }, checksum: h.checksum, payload: buf.subarray(UDP_HEADER_LENGTH) };
}
