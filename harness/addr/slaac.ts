/**
 * The addresses an instance derives by itself (RFC 4862 §5.5.3): the pod /64 or fe80::/64 followed by
 * the modified EUI-64 of its MAC. CloudStack computes these rather than storing them; so does the harness.
 */
import { interfaceIdFromMac } from './eui64.ts';
import { Prefix } from './prefix.ts';

const INTERFACE_ID_BITS = 64;
const LINK_LOCAL = Prefix.parse('fe80::/64');

/** The address of a /64 with an 8-byte interface id; throws when the prefix is not exactly a /64. */
export function addressFromInterfaceId(prefix: Prefix | string, iid: Uint8Array): string {
  const p = typeof prefix === 'string' ? Prefix.parse(prefix) : prefix;
  if (p.length !== 128 - INTERFACE_ID_BITS) throw new Error(`SLAAC needs exactly a /64, got ${p}`);
  if (iid.length !== 8) throw new Error(`an interface id has 8 bytes, got ${iid.length}`);
  return p.address(BigInt(`0x${Buffer.from(iid).toString('hex')}`));
}

/** The SLAAC address (no privacy extensions) of `mac` on the /64 `prefix`, in RFC 5952 text. */
export function slaacAddress(prefix: Prefix | string, mac: string): string {
  return addressFromInterfaceId(prefix, interfaceIdFromMac(mac));
}

/** The EUI-64 link-local address of `mac` (fe80::/64), in RFC 5952 text. */
export function linkLocalAddress(mac: string): string {
  return addressFromInterfaceId(LINK_LOCAL, interfaceIdFromMac(mac));
}
