/**
 * DHCPv6 wire bytes read in place, for hot paths (the relay handles every message of every
 * exchange): `isWellFormedDhcpv6` says whether decodeDhcpv6 would decode the bytes or throw,
 * walking the codec's rules without building any object, and `optionAt` finds an option's body.
 * The codec (dhcpv6.ts, dhcpv6-options.ts, duid.ts) stays the reference: dhcpv6-scan.test.ts
 * holds this file to it on golden captures, generated messages and mutants.
 */
import { isUtf8 } from 'node:buffer';
import { DHCPV6_MAX_NESTING, DHCPV6_OPTION_NUMBERS as OPT } from './dhcpv6-options.ts';
import { DHCPV6_MESSAGE_NUMBERS, DUID_TYPE_NUMBERS } from './dhcpv6.ts';

const RELAY_HEADER = 34;
const CLIENT_SERVER_HEADER = 4;
const MAX_MESSAGE_NUMBER = Math.max(...Object.values(DHCPV6_MESSAGE_NUMBERS));

const isRelayType = (t: number) => t === DHCPV6_MESSAGE_NUMBERS['relay-forward'] || t === DHCPV6_MESSAGE_NUMBERS['relay-reply'];
const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;

/** Whether decodeDhcpv6(buf.subarray(start, end), base, depth) returns rather than throws. */
export function isWellFormedDhcpv6(buf: Uint8Array, start = 0, end = buf.length, depth = 0): boolean {
  if (end - start < 1) return false;
  const type = buf[start]!;
  if (type === 0 || type > MAX_MESSAGE_NUMBER) return true; // kept raw as an unknown message
  const header = isRelayType(type) ? RELAY_HEADER : CLIENT_SERVER_HEADER;
  return end - start >= header && wellFormedOptions(buf, start + header, end, depth);
}

/** decodeOptions' walk: options filling [start, end) exactly, each body valid for its code. */
function wellFormedOptions(buf: Uint8Array, start: number, end: number, depth: number): boolean {
  if (depth > DHCPV6_MAX_NESTING) return false;
  let at = start;
  while (at < end) {
    if (end - at < 4) return false;
    const body = at + 4;
    const next = body + u16(buf, at + 2);
    if (next > end || !wellFormedBody(u16(buf, at), buf, body, next, depth)) return false;
    at = next;
  }
  return true;
}

/** Each known option's decode rule (dhcpv6-options.ts CODECS); unknown codes are kept raw. */
function wellFormedBody(code: number, buf: Uint8Array, start: number, end: number, depth: number): boolean {
  const length = end - start;
  switch (code) {
    case OPT['client-id']:
    case OPT['server-id']:
      return wellFormedDuid(buf, start, end);
    case OPT['ia-na']:
    case OPT['ia-pd']:
      return length >= 12 && wellFormedOptions(buf, start + 12, end, depth + 1);
    case OPT['ia-ta']:
      return length >= 4 && wellFormedOptions(buf, start + 4, end, depth + 1);
    case OPT.iaaddr:
      return length >= 24 && wellFormedOptions(buf, start + 24, end, depth + 1);
    case OPT.iaprefix:
      return length >= 25 && wellFormedOptions(buf, start + 25, end, depth + 1);
    case OPT.oro:
      return length % 2 === 0;
    case OPT.preference:
      return length === 1;
    case OPT['elapsed-time']:
      return length === 2;
    case OPT['relay-message']:
      return isWellFormedDhcpv6(buf, start, end, depth + 1);
    case OPT['status-code']:
      return length >= 2 && isUtf8(buf.subarray(start + 2, end));
    case OPT['rapid-commit']:
    case OPT['reconfigure-accept']:
      return length === 0;
    case OPT['dns-servers']:
      return length % 16 === 0;
    case OPT['domain-list']:
      return wellFormedDomains(buf, start, end);
    case OPT['remote-id']:
      return length >= 4;
    case OPT['client-linklayer-addr']:
      return length >= 2;
    default:
      return true; // interface-id, subscriber-id and unknown options: any bytes
  }
}

/** duid.ts decodeDuid: a type, then the fixed part of the known types (DUID-UUID exactly 16 bytes). */
function wellFormedDuid(buf: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length < 2) return false;
  switch (u16(buf, start)) {
    case DUID_TYPE_NUMBERS.llt:
      return length >= 8;
    case DUID_TYPE_NUMBERS.en:
      return length >= 6;
    case DUID_TYPE_NUMBERS.ll:
      return length >= 4;
    case DUID_TYPE_NUMBERS.uuid:
      return length === 18;
    default:
      return true;
  }
}

/** dhcpv6-options.ts decodeDomains: uncompressed names of printable labels, each ending in the root label. */
function wellFormedDomains(buf: Uint8Array, start: number, end: number): boolean {
  let at = start;
  while (at < end) {
    const name = at;
    for (;;) {
      if (at >= end) return false;
      const length = buf[at]!;
      if (length === 0) break;
      if (length > 63 || at + 1 + length > end) return false;
      for (let i = at + 1; i <= at + length; i++) {
        const b = buf[i]!;
        if (b <= 0x20 || b >= 0x7f || b === 0x2e) return false;
      }
      at += 1 + length;
    }
    at += 1;
    if (at - name > 255) return false;
  }
  return true;
}

/**
 * The offset of the body of the first option `code` in the well-formed option list [start, end),
 * or -1; the body's length is the 16 bits in front of it (`buf.readUInt16BE(at - 2)`).
 */
export function optionAt(buf: Uint8Array, start: number, end: number, code: number): number {
  for (let at = start; at + 4 <= end; at += 4 + u16(buf, at + 2)) {
    if (u16(buf, at) === code) return at + 4;
  }
  return -1;
}

/** Where the options of a well-formed client/server or relay message start. */
export const optionsStart = (buf: Uint8Array, start = 0): number => start + (isRelayType(buf[start]!) ? RELAY_HEADER : CLIENT_SERVER_HEADER);

/** The body offsets of every option `code` in the well-formed option list [start, end), in order. */
export function optionsAt(buf: Uint8Array, start: number, end: number, code: number): number[] {
  const found: number[] = [];
  for (let at = start; at + 4 <= end; at += 4 + u16(buf, at + 2)) {
    if (u16(buf, at) === code) found.push(at + 4);
  }
  return found;
}
