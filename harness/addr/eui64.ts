/**
 * Modified EUI-64 interface identifiers (RFC 4291 Appendix A): the 48-bit MAC split in half
 * with ff:fe inserted, and the universal/local bit (0x02 of the first byte) inverted.
 */
import { macToBytes } from './bytes.ts';
import { formatMac } from './mac.ts';

const UNIVERSAL_LOCAL_BIT = 0x02;

/** A copy of `bytes` (a MAC or an interface id) with the U/L bit of the first byte inverted. */
export function invertUniversalLocal(bytes: Uint8Array): Buffer {
  const out = Buffer.from(bytes);
  out[0]! ^= UNIVERSAL_LOCAL_BIT;
  return out;
}

/** The 8-byte modified EUI-64 interface identifier of a MAC. */
export function interfaceIdFromMac(mac: string): Buffer {
  const m = invertUniversalLocal(macToBytes(mac));
  return Buffer.concat([m.subarray(0, 3), Buffer.of(0xff, 0xfe), m.subarray(3, 6)]);
}

/** The MAC an interface id was derived from; throws when the id has no ff:fe in the middle (not MAC-derived). */
export function macFromInterfaceId(iid: Uint8Array): string {
  if (iid.length !== 8) throw new Error(`an interface id has 8 bytes, got ${iid.length}`);
  if (iid[3] !== 0xff || iid[4] !== 0xfe) throw new Error('interface id is not MAC-derived (bytes 4-5 are not ff:fe)');
  const flipped = invertUniversalLocal(iid);
  return formatMac(Buffer.concat([flipped.subarray(0, 3), flipped.subarray(5, 8)]));
}
