/**
 * Conversions between wire bytes and the text the harness shows and compares:
 * IPv6 addresses in canonical RFC 5952 form, hardware addresses as lower-case colon-separated
 * hex ("aa:bb:cc:dd:ee:ff", any length).
 *
 * The IPv6 conversions run on every decoded packet (the relay converts several addresses per
 * message), so the common cases are hand-written: bytes → RFC 5952 text always, and text → bytes
 * for plain hex forms. Anything unusual in text (embedded IPv4, zones, malformed input) goes to
 * ipaddr.js, which stays the reference: bytes.test.ts checks both directions against it on
 * random inputs.
 */
import ipaddr from 'ipaddr.js';

/** "00".."ff", so byte-to-text never formats a number. */
const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Canonical RFC 5952 text of the 16 bytes at `offset`: lower-case, no leading zeros, the longest (leftmost on a tie) run of two or more zero groups as "::". */
export function ipv6FromBytes(buf: Uint8Array, offset = 0): string {
  if (!(offset >= 0 && buf.length - offset >= 16))
    throw new RangeError(`an IPv6 address needs 16 bytes, ${Math.max(0, buf.length - offset)} at offset ${offset}`);
  let bestStart = -1;
  let bestLength = 1; // a single zero group is never compressed (RFC 5952 §4.2.2)
  let runStart = -1;
  for (let g = 0; g < 8; g++) {
    if (buf[offset + 2 * g] === 0 && buf[offset + 2 * g + 1] === 0) {
      if (runStart < 0) runStart = g;
      if (g - runStart + 1 > bestLength) {
        bestLength = g - runStart + 1;
        bestStart = runStart;
      }
    } else runStart = -1;
  }
  let text = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      text += '::';
      g += bestLength - 1;
      continue;
    }
    if (g > 0 && g !== bestStart + bestLength) text += ':';
    text += (((buf[offset + 2 * g]! << 8) | buf[offset + 2 * g + 1]!) >>> 0).toString(16);
  }
  return text;
}

/** Value of a hex digit's char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

/**
 * The bytes of plain hex IPv6 text (1–4 hex digits per group, eight groups, or fewer around one
 * "::" that stands for at least one zero group); undefined for any other text, valid or not.
 */
function parsePlainIpv6(text: string): Buffer | undefined {
  const n = text.length;
  if (n < 2 || n > 39) return undefined;
  const groups: number[] = [];
  let gap = -1; // index in `groups` where "::" stands
  let i = 0;
  if (text.charCodeAt(0) === 58 && text.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  }
  while (i < n) {
    let value = 0;
    let digits = 0;
    for (let d = hexDigit(text.charCodeAt(i)); d >= 0 && digits <= 4; d = hexDigit(text.charCodeAt(i))) {
      value = value * 16 + d;
      digits++;
      i++;
    }
    if (digits === 0 || digits > 4) return undefined;
    groups.push(value);
    if (i === n) break;
    if (text.charCodeAt(i) !== 58) return undefined; // ':'; a '.', '%' or anything else is not plain
    i++;
    if (text.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined;
      gap = groups.length;
      i++;
    } else if (i === n) return undefined; // a trailing single ':'
  }
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return undefined;
  const out = Buffer.alloc(16);
  const tail = gap < 0 ? 0 : groups.length - gap;
  for (let g = 0; g < groups.length; g++) {
    const at = gap < 0 || g < gap ? 2 * g : 16 - 2 * (tail - (g - gap));
    out[at] = groups[g]! >> 8;
    out[at + 1] = groups[g]! & 0xff;
  }
  return out;
}

/** Parses IPv6 text (any valid form, no zone) into 16 bytes; throws naming the text when invalid. */
export function ipv6ToBytes(text: string): Buffer {
  const plain = parsePlainIpv6(text);
  if (plain) return plain;
  if (!ipaddr.IPv6.isValid(text) || text.includes('%')) throw new Error(`not an IPv6 address: '${text}'`);
  // ipaddr.js reads an IPv4-compatible "::1.2.3.4" as IPv4-mapped "::ffff:1.2.3.4": spell the
  // dotted quad as two hex groups first so every embedded-IPv4 form keeps its own bytes.
  const hex = text.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_m, a: string, b: string, c: string, d: string) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  return Buffer.from(ipaddr.IPv6.parse(hex).toByteArray());
}

/** Canonical RFC 5952 text of any valid IPv6 address text. */
export function canonicalIpv6(text: string): string {
  return ipv6FromBytes(ipv6ToBytes(text));
}

export function hexColon(buf: Uint8Array): string {
  let text = '';
  for (let i = 0; i < buf.length; i++) text += i ? `:${HEX_BYTE[buf[i]!]!}` : HEX_BYTE[buf[i]!]!;
  return text;
}

/** Parses colon-hex ("aa:bb:…", or "" for zero bytes) into bytes; throws naming the text when malformed. */
export function hexColonToBytes(text: string): Buffer {
  if (text === '') return Buffer.alloc(0);
  // Exactly /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*$/, without the regex and the hex round trip.
  const malformed = () => new Error(`not colon-separated hex bytes: '${text}'`);
  if (text.length % 3 !== 2) throw malformed();
  const out = Buffer.alloc((text.length + 1) / 3);
  for (let b = 0; b < out.length; b++) {
    const hi = hexDigit(text.charCodeAt(3 * b));
    const lo = hexDigit(text.charCodeAt(3 * b + 1));
    if (hi < 0 || lo < 0 || (b + 1 < out.length && text.charCodeAt(3 * b + 2) !== 58)) throw malformed();
    out[b] = (hi << 4) | lo;
  }
  return out;
}

/** Parses a 6-byte MAC in colon or dash form; throws naming the text when malformed. */
export function macToBytes(text: string): Buffer {
  const bytes = hexColonToBytes(text.replaceAll('-', ':'));
  if (bytes.length !== 6) throw new Error(`not a 6-byte MAC address: '${text}'`);
  return bytes;
}
