/**
 * The multicast groups a host listens on (RFC 4291 §2.7.1) and their Ethernet addresses
 * (RFC 2464 §7: 33:33 followed by the group's last 32 bits).
 */
import { ipv6FromBytes, ipv6ToBytes } from './bytes.ts';
import { formatMac } from './mac.ts';

/** ff02::1:ffXX:XXXX: the group whose members NS for `address` is sent to (RFC 4291 §2.7.1). */
export function solicitedNodeAddress(address: string): string {
  const b = ipv6ToBytes(address);
  const group = Buffer.from(ipv6ToBytes('ff02::1:ff00:0'));
  b.copy(group, 13, 13, 16);
  return ipv6FromBytes(group);
}

/** The Ethernet destination of an IPv6 multicast group. */
export function multicastMac(group: string): string {
  const b = ipv6ToBytes(group);
  return formatMac(Buffer.concat([Buffer.of(0x33, 0x33), b.subarray(12, 16)]));
}

export function isMulticast(address: string): boolean {
  return ipv6ToBytes(address)[0] === 0xff;
}

/** fe80::/10. */
export function isLinkLocal(address: string): boolean {
  const b = ipv6ToBytes(address);
  return b[0] === 0xfe && (b[1]! & 0xc0) === 0x80;
}
