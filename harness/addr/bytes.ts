/**
 * Conversions between wire bytes and the text the harness shows and compares:
 * IPv6 addresses in canonical RFC 5952 form (via ipaddr.js), hardware addresses as
 * lower-case colon-separated hex ("aa:bb:cc:dd:ee:ff", any length).
 */
import ipaddr from 'ipaddr.js';

export function ipv6FromBytes(buf: Uint8Array, offset = 0): string {
  return (ipaddr.fromByteArray(Array.from(buf.subarray(offset, offset + 16))) as ipaddr.IPv6).toRFC5952String();
}

/** Parses IPv6 text (any valid form, no zone) into 16 bytes; throws naming the text when invalid. */
export function ipv6ToBytes(text: string): Buffer {
  if (!ipaddr.IPv6.isValid(text) || text.includes('%')) throw new Error(`not an IPv6 address: '${text}'`);
  // ipaddr.js reads an IPv4-compatible "::1.2.3.4" as IPv4-mapped "::ffff:1.2.3.4": spell the
  // dotted quad as two hex groups first so every embedded-IPv4 form keeps its own bytes.
  const hex = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
  return Buffer.from(ipaddr.IPv6.parse(hex).toByteArray());
}

/** Canonical RFC 5952 text of any valid IPv6 address text. */
export function canonicalIpv6(text: string): string {
  return ipv6FromBytes(ipv6ToBytes(text));
}

export function hexColon(buf: Uint8Array): string {
  return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Parses colon-hex ("aa:bb:…", or "" for zero bytes) into bytes; throws naming the text when malformed. */
export function hexColonToBytes(text: string): Buffer {
  if (text === '') return Buffer.alloc(0);
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*$/.test(text)) throw new Error(`not colon-separated hex bytes: '${text}'`);
  return Buffer.from(text.replaceAll(':', ''), 'hex');
}

/** Parses a 6-byte MAC in colon or dash form; throws naming the text when malformed. */
export function macToBytes(text: string): Buffer {
  const bytes = hexColonToBytes(text.replaceAll('-', ':'));
  if (bytes.length !== 6) throw new Error(`not a 6-byte MAC address: '${text}'`);
  return bytes;
}
