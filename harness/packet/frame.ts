/**
 * A whole Ethernet frame as one flat record of layers, scapy-style: Ethernet / IPv6 / extension
 * headers / UDP or ICMPv6 / DHCPv6. `buildFrame` fills in lengths and checksums; `decodeFrame`
 * verifies them and throws only DecodeError.
 */
import { decodeEthernetHeader, encodeEthernetHeader, ETHERTYPE_IPV6, type EthernetHeader } from './ethernet.ts';
import { decodeIpv6, encodeExtension, encodeIpv6Header, EXTENSION_NUMBERS, PROTO, type ExtensionHeader, type Ipv6Header } from './ipv6.ts';
import { decodeUdp, encodeUdp, type UdpHeader } from './udp.ts';
import { decodeIcmpv6, encodeIcmpv6, type Icmpv6Message } from './icmpv6.ts';
import { decodeDhcpv6, encodeDhcpv6, type Dhcpv6Message } from './dhcpv6.ts';
import { pseudoHeaderChecksum, verifyPseudoHeaderChecksum } from './checksum.ts';
import { ipv6ToBytes } from '../addr/bytes.ts';
import { DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT } from './constants.ts';

export interface Frame {
  ethernet: EthernetHeader;
  ipv6?: Ipv6Header;
  extensions?: ExtensionHeader[];
  /** Upper-layer protocol number; inferred from udp/icmpv6 when absent. */
  protocol?: number;
  udp?: UdpHeader;
  icmpv6?: Icmpv6Message;
  dhcpv6?: Dhcpv6Message;
  /** Bytes after the last layer given (UDP payload, unknown protocol, non-first fragment, non-IPv6 EtherType). */
  payload?: Buffer;
  /** Overrides the computed UDP/ICMPv6 checksum, to craft corrupt packets. */
  checksum?: number;
}

export interface DecodedFrame extends Frame {
  /** The UDP/ICMPv6 checksum as received and whether it verifies (absent for fragments and other protocols). */
  checksumStatus?: { value: number; valid: boolean };
}

function upperProtocol(f: Frame): number {
  if (f.protocol !== undefined) return f.protocol;
  if (f.udp) return PROTO.udp;
  if (f.icmpv6) return PROTO.icmpv6;
  return PROTO.noNext;
}

function isFragment(extensions: ExtensionHeader[] | undefined): boolean {
  return (extensions ?? []).some((e) => e.type === 'fragment' && (e.offset !== 0 || e.more));
}

function encodeUpper(f: Frame & { ipv6: Ipv6Header }, protocol: number): Buffer {
  let upper: Buffer;
  if (f.udp) upper = encodeUdp(f.udp, f.dhcpv6 ? encodeDhcpv6(f.dhcpv6) : (f.payload ?? Buffer.alloc(0)));
  else if (f.icmpv6) upper = encodeIcmpv6(f.icmpv6);
  else return f.payload ?? Buffer.alloc(0);
  const sum = f.checksum ?? pseudoHeaderChecksum(ipv6ToBytes(f.ipv6.src), ipv6ToBytes(f.ipv6.dst), protocol, upper);
  upper.writeUInt16BE(sum, f.udp ? 6 : 2);
  return upper;
}

export function buildFrame(f: Frame): Buffer {
  if (!f.ipv6) return Buffer.concat([encodeEthernetHeader(f.ethernet), f.payload ?? Buffer.alloc(0)]);
  const protocol = upperProtocol(f);
  const upper = encodeUpper(f as Frame & { ipv6: Ipv6Header }, protocol);
  const extensions = f.extensions ?? [];
  const encoded = extensions.map((e, i) => encodeExtension(e, i + 1 < extensions.length ? EXTENSION_NUMBERS[extensions[i + 1]!.type] : protocol));
  const chain = Buffer.concat([...encoded, upper]);
  const first = extensions.length ? EXTENSION_NUMBERS[extensions[0]!.type] : protocol;
  return Buffer.concat([encodeEthernetHeader({ ...f.ethernet, etherType: ETHERTYPE_IPV6 }), encodeIpv6Header(f.ipv6, first, chain.length), chain]);
}

export function decodeFrame(buf: Buffer): DecodedFrame {
  const { header: ethernet, length } = decodeEthernetHeader(buf);
  if (ethernet.etherType !== ETHERTYPE_IPV6) return { ethernet, payload: Buffer.from(buf.subarray(length)) };
  const ip = decodeIpv6(buf.subarray(length), length);
  const frame: DecodedFrame = { ethernet, ipv6: ip.header };
  if (ip.extensions.length) frame.extensions = ip.extensions;
  frame.protocol = ip.protocol;
  const known = ip.protocol === PROTO.udp || ip.protocol === PROTO.icmpv6;
  if (!known || isFragment(ip.extensions)) {
    if (ip.payload.length) frame.payload = Buffer.from(ip.payload);
    return frame;
  }
  if (ip.protocol === PROTO.udp) {
    const udp = decodeUdp(ip.payload, ip.payloadOffset);
    frame.udp = udp.header;
    const dhcp = [DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT];
    if (dhcp.includes(udp.header.srcPort) || dhcp.includes(udp.header.dstPort)) frame.dhcpv6 = decodeDhcpv6(udp.payload, ip.payloadOffset + 8);
    else if (udp.payload.length) frame.payload = Buffer.from(udp.payload);
  } else {
    frame.icmpv6 = decodeIcmpv6(ip.payload, ip.payloadOffset);
  }
  // Read only after the layer decoded, so the header is known to be long enough.
  const checksum = ip.payload.readUInt16BE(ip.protocol === PROTO.udp ? 6 : 2);
  const valid = verifyPseudoHeaderChecksum(ipv6ToBytes(ip.header.src), ipv6ToBytes(ip.header.dst), ip.protocol, ip.payload);
  frame.checksumStatus = { value: checksum, valid };
  return frame;
}
