/**
 * MAC addresses as the pod uses them: canonical lower-case colon text, unicast checks
 * (the I/G bit, RFC 7042 §2.1) and deterministic generation for instances that declare none.
 */
import { createHash } from 'node:crypto';
import { hexColon, macToBytes } from './bytes.ts';

const GROUP_BIT = 0x01; // I/G: set on multicast and broadcast
const LOCAL_BIT = 0x02; // U/L: set on locally administered addresses

/** Canonical "aa:bb:cc:dd:ee:ff" of a MAC in colon or dash form, any case; throws naming the text when malformed. */
export function parseMac(text: string): string {
  return hexColon(macToBytes(text));
}

/** Canonical text of 6 MAC bytes. */
export function formatMac(bytes: Uint8Array): string {
  if (bytes.length !== 6) throw new Error(`a MAC address has 6 bytes, got ${bytes.length}`);
  return hexColon(bytes);
}

export function isMulticastMac(mac: string): boolean {
  return (macToBytes(mac)[0]! & GROUP_BIT) !== 0;
}

export function isLocallyAdministeredMac(mac: string): boolean {
  return (macToBytes(mac)[0]! & LOCAL_BIT) !== 0;
}

/**
 * Canonical text of a MAC an interface may own; throws when it is multicast/broadcast or all zeros,
 * with a message that reads after the field name ("… is a multicast MAC …").
 */
export function assertUnicastMac(text: string): string {
  const mac = parseMac(text);
  if (isMulticastMac(mac)) throw new Error(`${mac} is a multicast MAC (I/G bit set); an interface needs a unicast MAC`);
  if (mac === '00:00:00:00:00:00') throw new Error(`${mac} is the all-zero MAC; an interface needs a real one`);
  return mac;
}

/**
 * A locally administered unicast MAC 02:xx:xx:xx:xx:xx from a hash of `seed` (e.g. "pod/instance"):
 * the same seed always gives the same MAC, so addresses derived from it are stable across runs.
 * The fixed 02 first byte keeps generated MACs recognisable in captures; 40 hashed bits make
 * collisions in one pod negligible (the pod file still rejects duplicates).
 */
export function generateMac(seed: string): string {
  const hash = createHash('sha256').update(seed, 'utf8').digest();
  return formatMac(Buffer.concat([Buffer.of(LOCAL_BIT), hash.subarray(0, 5)]));
}
