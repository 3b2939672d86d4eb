/** Ethernet II with an optional 802.1Q tag. */
import { layout, Struct } from './struct.ts';
import { hexColon, macToBytes } from '../addr/bytes.ts';

export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;

export interface VlanTag {
  pcp: number;
  dei: boolean;
  id: number;
}

export interface EthernetHeader {
  dst: string;
  src: string;
  vlan?: VlanTag;
  /** EtherType of the payload (after the tag when there is one). */
  etherType: number;
}

const MAC_PAIR = new Struct<{ dst: Buffer; src: Buffer; etherType: number }>(
  'ethernet',
  'header',
  layout().buffer('dst', { length: 6 }).buffer('src', { length: 6 }).uint16('etherType'),
);
const TAG = new Struct<{ tci: number; etherType: number }>('ethernet', 'vlan', layout().uint16('tci').uint16('etherType'));

export function encodeEthernetHeader(h: EthernetHeader): Buffer {
  const out = Buffer.alloc(h.vlan ? 18 : 14);
  macToBytes(h.dst).copy(out, 0);
  macToBytes(h.src).copy(out, 6);
  if (h.vlan) {
    out.writeUInt16BE(ETHERTYPE_VLAN, 12);
    out.writeUInt16BE(((h.vlan.pcp & 7) << 13) | (h.vlan.dei ? 0x1000 : 0) | (h.vlan.id & 0xfff), 14);
    out.writeUInt16BE(h.etherType, 16);
  } else {
    out.writeUInt16BE(h.etherType, 12);
  }
  return out;
}

/** Decodes the header at the start of `buf`; `length` is where the payload begins. */
export function decodeEthernetHeader(buf: Buffer): { header: EthernetHeader; length: number } {
  const m = MAC_PAIR.read(buf, 0);
  const header: EthernetHeader = { dst: hexColon(m.dst), src: hexColon(m.src), etherType: m.etherType };
  if (m.etherType !== ETHERTYPE_VLAN) return { header, length: MAC_PAIR.size };
  const t = TAG.read(buf, MAC_PAIR.size);
  header.vlan = { pcp: t.tci >> 13, dei: (t.tci & 0x1000) !== 0, id: t.tci & 0xfff };
  header.etherType = t.etherType;
  return { header, length: MAC_PAIR.size + TAG.size };
}
